// The three streams a CLI invocation reads and writes (main.ts uses the process's; tests pass their
// own). Types only, so loading it costs nothing.
export interface Streams {
  stdin: NodeJS.ReadableStream & { isTTY?: boolean };
  stdout: NodeJS.WritableStream & { isTTY?: boolean };
  stderr: NodeJS.WritableStream & { isTTY?: boolean };
}
