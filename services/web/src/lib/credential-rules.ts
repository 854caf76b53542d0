/**
 * Checks of user names and new passwords with the shared schemas, before the gateway checks them
 * again. Imports zod through the schemas: only lazily loaded modules use this file.
 */
import { PasswordSchema, UsernameSchema } from '@llamaproxy/shared';

/** Why `password` cannot be a new password (or the repetition differs), or null when it can. */
export function newPasswordProblem(password: string, again: string): string | null {
  const parsed = PasswordSchema.safeParse(password);
  if (!parsed.success) {
    return `Password: ${parsed.error.issues[0]?.message ?? 'not allowed'}`;
  }
  return password === again ? null : 'The two passwords differ';
}

/** Why `name` cannot be a user name, or null when it can. */
export function usernameProblem(name: string): string | null {
  const parsed = UsernameSchema.safeParse(name);
  if (parsed.success) {
    return null;
  }
  const issue = parsed.error.issues[0];
  return `User name: ${issue?.code === 'too_small' ? 'required' : (issue?.message ?? 'not allowed')}`;
}
