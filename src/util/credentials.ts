/**
 * Text without the credentials a URL in it may carry (`https://user:token@host/…` →
 * `https://***@host/…`): for git messages, endpoints and connection strings that reach a log or an error.
 */
export function withoutCredentials(text: string): string {
  return text.replace(/(\w+:\/\/)[^/@\s]+@/g, '$1***@');
}
