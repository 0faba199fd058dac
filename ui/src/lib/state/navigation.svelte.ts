export type Screen = 'dashboard' | 'add-folder' | 'restore';

/** Which screen of the signed-in app is showing. */
export class Navigation {
  screen = $state<Screen>('dashboard');
  /** A short confirmation shown on the next screen ("Added ~/Documents"). */
  notice = $state<string | null>(null);

  go(screen: Screen, notice: string | null = null): void {
    this.screen = screen;
    this.notice = notice;
  }
}
