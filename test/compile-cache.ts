// Preloaded by the npm test scripts (node --import), and so by every test file's process:
// Node keeps the compiled code of the modules a test file loads, with their types stripped,
// in the system's temporary directory, and the next file or run reuses it. The unit tests
// take about a third less CPU. (`parley` itself does the same in src/cli/main.ts.)

import { enableCompileCache } from 'node:module';

enableCompileCache();
