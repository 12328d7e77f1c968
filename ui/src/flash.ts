/**
 * A message for the page a change leads to ("Note saved." on the note the editor opens next):
 * set before navigating, taken (once) by the next page.
 */
let pending: string | null = null;

export const flash = {
  set: (message: string) => {
    pending = message;
  },
  take: (): string | null => {
    const message = pending;
    pending = null;
    return message;
  },
};
