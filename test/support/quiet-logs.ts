/* Tests provoke failures on purpose; keep Nest's log lines out of the output unless NZL_TEST_LOGS is set. */
import { Logger } from '@nestjs/common';

if (!process.env.NZL_TEST_LOGS) Logger.overrideLogger(false);
