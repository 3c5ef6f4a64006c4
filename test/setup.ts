delete process.env.CI;
delete process.env.NO_COLOR;
process.env.FORCE_COLOR = "0";
