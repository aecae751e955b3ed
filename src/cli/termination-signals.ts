// SIGINT and SIGTERM as the docker CLI takes them: the first cancels the command, which ends
// with 128 + the signal's number and no message (logs -f, events, wait …); run, start, attach
// and exec keep going (they forward signals to the container or ignore them); the third ends
// the CLI whatever it is doing: "\ngot 3 SIGTERM/SIGINTs, forcefully exiting", exit 1.

const SIGNAL_NUMBERS = { SIGINT: 2, SIGTERM: 15 } as const;

/** Commands docker runs with a context that signals do not cancel. */
const KEEP_RUNNING = new Set(["run", "start", "attach", "exec"]);

let cancelOnSignal = true;

/** Called with the command about to run. */
export function commandStarting(name: string): void {
  cancelOnSignal = !KEEP_RUNNING.has(name);
}

/** Install the handlers for the real process (not for CLIs run inside tests). */
export function installTerminationHandling(writeErr: (text: string) => void): void {
  let count = 0;
  for (const sig of Object.keys(SIGNAL_NUMBERS) as Array<keyof typeof SIGNAL_NUMBERS>) {
    process.on(sig, () => {
      count++;
      if (count >= 3) {
        writeErr("\ngot 3 SIGTERM/SIGINTs, forcefully exiting\n");
        process.exit(1);
      }
      if (cancelOnSignal) process.exit(128 + SIGNAL_NUMBERS[sig]);
    });
  }
}
