/** Carries `castellan check`'s exit code out of the command (its report is already printed). */
export class CheckResult extends Error {
  constructor(readonly exitCode: number) {
    super(`check: exit ${exitCode}`);
    this.name = 'CheckResult';
  }
}
