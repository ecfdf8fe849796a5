// The three streams a CLI invocation reads and writes; tests pass their own.
export interface Streams {
  stdin: NodeJS.ReadableStream & { isTTY?: boolean };
  stdout: NodeJS.WritableStream & { isTTY?: boolean };
  stderr: NodeJS.WritableStream & { isTTY?: boolean };
}

export const processStreams: Streams = {
  stdin: process.stdin,
  stdout: process.stdout,
  stderr: process.stderr,
};
