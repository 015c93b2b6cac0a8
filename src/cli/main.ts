// The `parley` command: dispatches to a subcommand and sets the exit code.

import { enableCompileCache } from 'node:module';
import { packageVersion } from '../node/version.ts';
import { followLauncher } from './stop-requests.ts';

// Node keeps the compiled code (and the sources with their types stripped) of the modules
// a command loads, in the system's temporary directory, and the next start reuses it:
// `parley serve` starts with about half the CPU. It must run before the command's modules
// load, so each command is imported only once this has run.
enableCompileCache();

const USAGE = `Usage: parley <command> [options]

Commands:
  serve     Run a node (Mles v2 compatible relay with a chat page).
  chat      Interactive terminal client for a channel.
  group     End-to-end encrypted groups (MLS): init, create, add, remove, send, read, ...
  keys      Show this node's identity (keys show).
  p2p       Ask a node about its peer-to-peer side: status, find NODEID|PEERID|NAME.
  version   Print parley's version (also -v, --version).
  help      Show this help (also -h, --help).

Run 'parley <command> --help' for a command's options.
`;

async function main(argv: readonly string[]): Promise<number> {
  const [command, ...rest] = argv;
  if (command !== 'serve') followLauncher(process);
  switch (command) {
    case 'serve': {
      const { runServe } = await import('./serve.ts');
      return runServe(rest);
    }
    case 'keys': {
      const { runKeys } = await import('./keys.ts');
      return runKeys(rest);
    }
    case 'p2p': {
      const { runP2P } = await import('./p2p.ts');
      return runP2P(rest);
    }
    case 'chat': {
      const { runChat } = await import('./chat.ts');
      return runChat(rest);
    }
    case 'group': {
      const { runGroup } = await import('./group.ts');
      return runGroup(rest);
    }
    case undefined:
    case 'help':
    case '-h':
    case '--help':
      process.stdout.write(USAGE);
      return command === undefined ? 2 : 0;
    case 'version':
    case '--version':
    case '-v':
    case '-V':
      process.stdout.write(`parley ${packageVersion()}\n`);
      return 0;
    default:
      process.stderr.write(`parley: unknown command "${command}"\n\n${USAGE}`);
      return 2;
  }
}

// In `ps` and `top`, rather than the name Node gives its main thread.
process.title = 'parley';

main(process.argv.slice(2)).then(
  // Exit explicitly: a finished command must not be kept alive by stdin or sockets.
  (code) => process.exit(code),
  (error: unknown) => {
    process.stderr.write(`parley: ${(error as Error).stack ?? String(error)}\n`);
    process.exit(1);
  },
);
