// Runs the sync engine suite (src/testing/engine-suite.ts) against the in-process server model.
import { memoryEngineService, runEngineSuite } from '../../testing/engine-suite.js';

runEngineSuite('memory model', async () => memoryEngineService());
