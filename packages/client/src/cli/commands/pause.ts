// `taskengine pause <type>` (see queue-state.ts).
import { queueStateCommand } from './queue-state.js';

export default queueStateCommand('pause');
