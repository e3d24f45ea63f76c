import type { CliIo } from './io.js';

/** Progress of a long operation, on stderr when it is a terminal; nothing otherwise. */
export interface Progress {
  /** `done` of `total` units (records); shown at most every 250 ms. */
  update(done: number, total?: number): void;
  /** A step in words, shown at once (e.g. before a blocking key generation). */
  note(text: string): void;
  /** Clears the line. */
  end(): void;
}

const NONE: Progress = Object.freeze({ update() {}, note() {}, end() {} });

/**
 * Progress for `label` (`audit verify`, `audit export`, `ca init`): one line on stderr rewritten in
 * place, only when stderr is a terminal (`io.stderrIsTty`), so pipes, files and scripts never see it.
 *
 * @example const p = progress(io, 'audit verify'); p.update(5000, 200000); ...; p.end();
 */
export function progress(io: CliIo, label: string): Progress {
  if (!io.stderrIsTty) return NONE;
  let last = 0;
  let shown = false;
  const show = (text: string) => {
    io.err(`\r\x1b[K${label}: ${text}`);
    shown = true;
  };
  return {
    update(done, total) {
      const t = Date.now();
      if (t - last < 250 && !(total !== undefined && done >= total)) return;
      last = t;
      show(total ? `${done.toLocaleString('en')} of ${total.toLocaleString('en')} (${Math.floor((100 * done) / total)}%)` : done.toLocaleString('en'));
    },
    note(text) {
      show(text);
    },
    end() {
      if (shown) io.err('\r\x1b[K');
      shown = false;
    },
  };
}
