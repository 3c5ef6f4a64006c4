export type OptionValue = string | number | boolean;
export type Options = Readonly<Record<string, OptionValue>>;

/** A sandbox option's value as its command line takes it: booleans are on/off. */
export function optionValue(value: OptionValue): string {
  return typeof value === "boolean" ? (value ? "on" : "off") : String(value);
}

/** Options as flags, e.g. `--threading off`. */
export function optionFlags(options: Options): string {
  return Object.entries(options)
    .map(([k, v]) => `--${k} ${optionValue(v)}`)
    .join(" ");
}

/** Options for people, e.g. `threading off`. */
export function optionWords(options: Options): string {
  return Object.entries(options)
    .map(([k, v]) => `${k} ${optionValue(v)}`)
    .join(", ");
}
