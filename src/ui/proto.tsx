import { Box, render, Text, useApp } from "ink";
import { useEffect } from "react";

function App() {
  const { exit } = useApp();
  useEffect(() => {
    const t = setTimeout(() => exit(), 10);
    return () => clearTimeout(t);
  }, [exit]);
  return (
    <Box borderStyle="round">
      <Text>course map</Text>
    </Box>
  );
}
export async function run() {
  const { waitUntilExit } = render(<App />);
  await waitUntilExit();
}
