import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { PasswordSchema, RoleSchema, UsernameSchema } from '@llamaproxy/shared';
import { openDatabase } from './db/database.js';
import { SessionRepository } from './repositories/session.repository.js';
import { UserRepository } from './repositories/user.repository.js';
import { hashPassword } from './services/password-hasher.js';

const USAGE = `Usage (in the gateway container: docker compose exec gateway node dist/cli.js ...):
  user add NAME [--role viewer|operator|admin] [--password-file FILE]   create a local user
  user passwd NAME [--password-file FILE]                                set a password; ends their sessions
  user role NAME --role ROLE                                             change a role; ends their sessions
  user list                                                              list users
Without --password-file the password is read from standard input (first line).
The database is DATA_DIR/llamaproxy.db (DATA_DIR defaults to /data).`;

/** Reads the password from a file or stdin, and checks it like the web app does. */
function readPassword(file: string | undefined): string {
  const text = readFileSync(file ?? 0, 'utf8');
  const password = text.split(/\r?\n/)[0] ?? '';
  const parsed = PasswordSchema.safeParse(password);
  if (!parsed.success) {
    throw new Error(`password: ${parsed.error.issues[0]?.message ?? 'invalid'}`);
  }
  return parsed.data;
}

/** The user-management CLI: works on the SQLite file directly, so it needs no running gateway. */
async function main(argv: string[]): Promise<number> {
  const { values, positionals } = parseArgs({
    args: argv,
    allowPositionals: true,
    options: { role: { type: 'string' }, 'password-file': { type: 'string' }, help: { type: 'boolean', short: 'h' } },
  });
  const [scope, command, name] = positionals;
  if (values.help === true || scope !== 'user' || command === undefined) {
    process.stdout.write(`${USAGE}\n`);
    return values.help === true ? 0 : 2;
  }
  const db = openDatabase(join(process.env.DATA_DIR ?? '/data', 'llamaproxy.db'));
  try {
    const users = new UserRepository(db);
    const sessions = new SessionRepository(db);
    if (command === 'list') {
      for (const u of users.list()) {
        process.stdout.write(`${u.username}\t${u.role}\t${u.origin}${u.disabled ? '\tdisabled' : ''}\n`);
      }
      return 0;
    }
    const username = UsernameSchema.parse(name);
    switch (command) {
      case 'add': {
        const role = RoleSchema.parse(values.role ?? 'viewer');
        if (users.byUsername(username) !== null) {
          throw new Error(`a user named "${username}" exists`);
        }
        users.create({ username, passwordHash: await hashPassword(readPassword(values['password-file'])), role, origin: 'local' });
        process.stdout.write(`created ${username} (${role})\n`);
        return 0;
      }
      case 'passwd':
      case 'role': {
        const user = users.byUsername(username);
        if (user === null) {
          throw new Error(`no user named "${username}"`);
        }
        if (command === 'passwd') {
          users.update(user.id, { passwordHash: await hashPassword(readPassword(values['password-file'])) });
        } else {
          const role = RoleSchema.parse(values.role);
          if (user.role === 'admin' && role !== 'admin' && users.enabledAdmins() <= 1) {
            throw new Error('the last admin cannot be demoted');
          }
          users.update(user.id, { role });
        }
        const ended = sessions.deleteForUser(user.id);
        process.stdout.write(`updated ${username}; ${ended} session(s) ended\n`);
        return 0;
      }
      default:
        process.stdout.write(`${USAGE}\n`);
        return 2;
    }
  } finally {
    db.close();
  }
}

main(process.argv.slice(2)).then(
  (code) => process.exit(code),
  (err: unknown) => {
    process.stderr.write(`error: ${err instanceof Error ? err.message : String(err)}\n`);
    process.exit(1);
  },
);
