// Builds the declarative pipeline (payload `operations`) into one async-iterable transform. Stages
// are chosen from a table keyed by op, never by evaluating anything the payload says.
import { distinctStage, filterStage, groupByStage, limitStage, offsetStage, renameStage, selectStage, sortStage, type Stage, type StageLimits } from './stages.js';
import type { Step } from './payload.js';

export type { Stage, StageLimits } from './stages.js';

export function buildPipeline(steps: Step[], limits: StageLimits): Stage {
  const stages = steps.map((step, index): Stage => {
    switch (step.op) {
      case 'filter':
        return filterStage(step);
      case 'select':
        return selectStage(step);
      case 'rename':
        return renameStage(step);
      case 'sort':
        return sortStage(step, limits, rowsNeededAfter(steps, index));
      case 'group_by':
        return groupByStage(step, limits);
      case 'distinct':
        return distinctStage(step, limits);
      case 'limit':
        return limitStage(step);
      case 'offset':
        return offsetStage(step);
    }
  });
  return (input) => stages.reduce((rows, stage) => stage(rows), input);
}

/** How many rows the steps right after `index` can use, when they are offsets ending in a limit. */
function rowsNeededAfter(steps: Step[], index: number): number | undefined {
  let skipped = 0;
  for (const step of steps.slice(index + 1)) {
    if (step.op === 'offset') skipped += step.n;
    else if (step.op === 'limit') return skipped + step.n;
    else return undefined;
  }
  return undefined;
}
