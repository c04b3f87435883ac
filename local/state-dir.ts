import { type ResetResult, resetState, StateFolder } from './state';

export const DEFAULT_STATE_DIR = '.pipeline-local';

/** The given open state folder, or `stateDir` opened (and locked) for this command. */
export async function openStateFolder(request: {
  readonly state?: StateFolder;
  readonly stateDir?: string;
  readonly mode: 'write' | 'read';
  readonly command: string;
  readonly lockWaitMs?: number;
  readonly onWait?: (line: string) => void;
}): Promise<StateFolder> {
  return (
    request.state ??
    StateFolder.open(request.stateDir ?? DEFAULT_STATE_DIR, {
      mode: request.mode,
      command: request.command,
      waitMs: request.lockWaitMs,
      onWait: request.onWait,
    })
  );
}

/**
 * Clears the state folder, if this tool created it (its marker): the next run starts from an
 * empty pipeline. Anything else is refused (StateError); see local/state.ts.
 */
export async function resetPipeline(
  options: { stateDir?: string; lockWaitMs?: number; onWait?: (line: string) => void } = {},
): Promise<ResetResult> {
  return resetState(options.stateDir ?? DEFAULT_STATE_DIR, {
    waitMs: options.lockWaitMs,
    onWait: options.onWait,
  });
}
