/**
 * The progress line on stderr: one line per finished scenario, and on a
 * terminal a live status line (target, scenario, phase, rate) redrawn twice
 * a second. Silent with --quiet.
 */

/** Writes progress to a stream, or nowhere. */
export class Progress {
  private readonly stream: NodeJS.WritableStream | null;
  private readonly live: boolean;
  private title: string;
  private startedAt: number;
  private totalMs: number;
  private lastCompleted: number;
  private lastAt: number;
  private rate: number;
  private lineShown: boolean;

  /** `stream` null: quiet. `live`: redraw a status line in place (a TTY). */
  constructor(stream: NodeJS.WritableStream | null, live: boolean) {
    this.stream = stream;
    this.live = live;
    this.title = '';
    this.startedAt = 0;
    this.totalMs = 0;
    this.lastCompleted = 0;
    this.lastAt = 0;
    this.rate = 0;
    this.lineShown = false;
  }

  /** A standalone line (placement, target started or skipped). */
  note(line: string): void {
    this.clear();
    this.stream?.write(`shoal bench: ${line}\n`);
  }

  /** A scenario run starts. */
  begin(target: string, label: string, warmupMs: number, durationMs: number): void {
    this.title = `${target} | ${label}`;
    this.startedAt = performance.now();
    this.totalMs = warmupMs + durationMs;
    this.lastCompleted = 0;
    this.lastAt = this.startedAt;
    this.rate = 0;
    this.draw('setup');
  }

  /** Completed messages so far and the phase. */
  update(completed: number, phase: string): void {
    const now = performance.now();
    if (now - this.lastAt >= 250) {
      this.rate = ((completed - this.lastCompleted) * 1000) / (now - this.lastAt);
      this.lastCompleted = completed;
      this.lastAt = now;
    }
    this.draw(phase);
  }

  /** The scenario run ended; `summary` is its one-line result. */
  end(summary: string): void {
    this.clear();
    this.stream?.write(`shoal bench: ${summary}\n`);
  }

  private draw(phase: string): void {
    if (this.stream === null || !this.live) return;
    const elapsed = ((performance.now() - this.startedAt) / 1000).toFixed(1);
    const line = `${this.title} | ${phase} ${elapsed}/${(this.totalMs / 1000).toFixed(1)} s | ${Math.round(this.rate).toLocaleString('en-US')}/s`;
    this.stream.write(`\r\x1b[K${line}`);
    this.lineShown = true;
  }

  private clear(): void {
    if (this.lineShown && this.stream !== null) this.stream.write('\r\x1b[K');
    this.lineShown = false;
  }
}
