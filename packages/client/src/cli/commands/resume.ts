// `taskengine resume <type>` (see queue-state.ts).
import { queueStateCommand } from './queue-state.js';

export default queueStateCommand('resume');
