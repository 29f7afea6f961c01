import { createQueueHandler } from '../../lambdas/verify/handler.ts';
import { createPipeline, type PipelineDeps } from '../../lambdas/verify/pipeline.ts';
import { createSweepHandler } from '../../lambdas/verify/schedule.ts';
import { createStreamHandler } from '../../lambdas/verify/stream.ts';

/** The verifier's three entry points on one pipeline, as the three functions run them in AWS. */
export function verifierHandlers(deps: PipelineDeps) {
  const pipeline = createPipeline(deps);
  return {
    pipeline,
    queue: createQueueHandler(pipeline),
    stream: createStreamHandler(pipeline),
    sweep: createSweepHandler(pipeline),
  };
}

export type VerifierHandlers = ReturnType<typeof verifierHandlers>;
