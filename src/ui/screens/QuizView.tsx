import { Box, Text } from "ink";
import type { ReactNode } from "react";
import { formatScore, type QuizScore } from "../../course/quiz.js";
import type { Quiz } from "../../course/schema.js";
import { Header } from "../components/Header.js";
import { numbered, plural, wrap } from "../text.js";
import { type Theme, useTheme } from "../theme.js";
import type { QuizState } from "./quiz-state.js";

export interface QuizLine {
  text: string;
  color?: string;
  bold?: boolean;
}

const INDENT = "   ";

function paragraph(text: string, width: number, style: Omit<QuizLine, "text"> = {}): QuizLine[] {
  return wrap(text, width).map((line) => ({ text: line, ...style }));
}

function questionLines(quiz: Quiz, state: QuizState, width: number, theme: Theme): QuizLine[] {
  const question = quiz.questions[state.index];
  if (!question) return [];
  const chosen = state.answers[state.index];
  const lines: QuizLine[] = [...paragraph(question.prompt, width, { bold: true }), { text: "" }];
  question.choices.forEach((choice, i) => {
    let mark = "";
    let color: string | undefined;
    if (state.phase === "asking" && i === state.cursor) {
      mark = `${theme.symbols.pointer} `;
      color = theme.text.accent;
    } else if (state.phase === "feedback" && i === question.answer) {
      mark = `${theme.symbols.correct} `;
      color = theme.status.success;
    } else if (state.phase === "feedback" && i === chosen) {
      mark = `${theme.symbols.wrong} `;
      color = theme.status.error;
    }
    const label = `${mark.padEnd(4)}${i + 1}. `;
    const isCursor = state.phase === "asking" && i === state.cursor;
    for (const [n, line] of wrap(choice, width - label.length).entries()) {
      lines.push({
        text: (n === 0 ? label : " ".repeat(label.length)) + line,
        color,
        bold: isCursor,
      });
    }
  });
  if (state.phase === "feedback") {
    const right = chosen === question.answer;
    lines.push({ text: "" });
    if (right) {
      lines.push({
        text: `${theme.symbols.correct} Correct.`,
        color: theme.status.success,
        bold: true,
      });
    } else {
      lines.push({
        text: `${theme.symbols.wrong} Not quite.`,
        color: theme.status.error,
        bold: true,
      });
      lines.push(
        ...paragraph(
          `The answer is ${question.answer + 1}. ${question.choices[question.answer] ?? ""}`,
          width,
        ),
      );
    }
    lines.push(...paragraph(question.explanation, width));
    lines.push(
      ...paragraph(`Source: ${question.source.title}`, width, { color: theme.text.secondary }),
    );
    lines.push(...paragraph(question.source.url, width, { color: theme.text.link }));
  }
  return lines;
}

function resultLines(
  quiz: Quiz,
  score: QuizScore,
  state: QuizState,
  width: number,
  theme: Theme,
  noun: string,
): QuizLine[] {
  const lines: QuizLine[] = [
    {
      text: `Score: ${formatScore(score.score)} (${score.correct} of ${score.total} correct)`,
      bold: true,
    },
    score.passed
      ? {
          text: `${theme.symbols.correct} Passed: the pass mark is ${formatScore(quiz.passMark)}.`,
          color: theme.status.success,
        }
      : {
          text: `${theme.symbols.wrong} Not passed yet: the pass mark is ${formatScore(quiz.passMark)}. Press r to retake the ${noun}.`,
          color: theme.status.warning,
        },
  ];
  if (score.missed.length === 0) return lines;
  lines.push({ text: "" }, { text: "To review:", bold: true });
  for (const i of score.missed) {
    const q = quiz.questions[i];
    if (!q) continue;
    const given = state.answers[i];
    lines.push({ text: "" });
    lines.push(...paragraph(`${i + 1}. ${q.prompt}`, width, { bold: true }));
    if (given !== undefined) {
      lines.push(
        ...paragraph(`${INDENT}You answered: ${q.choices[given] ?? ""}`, width, {
          color: theme.status.error,
        }),
      );
    }
    lines.push(
      ...paragraph(`${INDENT}Answer: ${q.choices[q.answer] ?? ""}`, width, {
        color: theme.status.success,
      }),
    );
    lines.push(...paragraph(`${INDENT}${q.explanation}`, width));
    lines.push(
      ...paragraph(`${INDENT}Source: ${q.source.title} ${q.source.url}`, width, {
        color: theme.text.secondary,
      }),
    );
  }
  return lines;
}

/**
 * Every line of the quiz screen's body in its current state, wrapped to `width`. `noun` names
 * what is retaken ("quiz", "exam").
 */
export function quizLines(
  quiz: Quiz,
  state: QuizState,
  score: QuizScore | undefined,
  width: number,
  theme: Theme,
  noun = "quiz",
): QuizLine[] {
  return state.phase === "done" && score
    ? resultLines(quiz, score, state, width, theme, noun)
    : questionLines(quiz, state, width, theme);
}

export const QUIZ_CHROME_LINES = 3;

export interface QuizViewProps {
  title: string;
  position: string;
  lines: QuizLine[];
  scroll: number;
  footer: ReactNode;
  width: number;
  height: number;
}

export function QuizView({ title, position, lines, scroll, footer, width, height }: QuizViewProps) {
  const theme = useTheme();
  const bodyHeight = Math.max(0, height - QUIZ_CHROME_LINES);
  const visible = numbered(lines).slice(scroll, scroll + bodyHeight);
  const below = lines.length - scroll - bodyHeight;
  return (
    <Box flexDirection="column" width={width} height={height} overflow="hidden">
      <Header title={title} right={position} width={width} />
      <Text> </Text>
      <Box flexDirection="column" height={bodyHeight} paddingLeft={2} overflow="hidden">
        {visible.map(({ id, line }) => (
          <Text key={id} color={line.color} bold={line.bold} wrap="truncate-end">
            {line.text === "" ? " " : line.text}
          </Text>
        ))}
      </Box>
      <Box width={width} height={1}>
        <Box flexGrow={1}>
          <Text bold color={theme.text.accent} wrap="truncate-end">
            {footer}
          </Text>
        </Box>
        <Text color={theme.text.secondary}>
          {below > 0 ? `${plural(below, "more line")} ↓` : ""}
        </Text>
      </Box>
    </Box>
  );
}
