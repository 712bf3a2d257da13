/**
 * The timer seam of the plugin's runtime timers (session TTLs, tombstone reaping): real timers
 * by default, unref'd so a pending expiry never keeps the process alive; tests inject their own.
 */

/** Starts a timer; returns its handle. */
export type SetTimer = (fn: () => void, ms: number) => unknown;
/** Stops a timer by its handle. */
export type ClearTimer = (handle: unknown) => void;

export const unrefSetTimer: SetTimer = (fn, ms) => {
  const t = setTimeout(fn, ms);
  t.unref();
  return t;
};

export const realClearTimer: ClearTimer = (h) => clearTimeout(h as NodeJS.Timeout);
