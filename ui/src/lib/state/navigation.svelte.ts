export type Screen = 'dashboard' | 'folders' | 'add-folder' | 'restore' | 'schedule' | 'activity' | 'settings';
export type SettingsPage = 'account' | 'communication' | 'encryption' | 'devices' | 'sharing' | 'apps' | 'privacy' | 'general';

export const SETTINGS_PAGES: { page: SettingsPage; label: string }[] = [
  { page: 'account', label: 'Account' },
  { page: 'communication', label: 'Communication' },
  { page: 'encryption', label: 'Encryption' },
  { page: 'devices', label: 'Devices & sessions' },
  { page: 'sharing', label: 'Sharing' },
  { page: 'apps', label: 'Connected apps' },
  { page: 'privacy', label: 'Privacy' },
  { page: 'general', label: 'General' },
];

/** Which screen of the signed-in app is showing. */
export class Navigation {
  screen = $state<Screen>('dashboard');
  settingsPage = $state<SettingsPage>('account');
  /** A short confirmation shown on the next screen ("Added ~/Documents"). */
  notice = $state<string | null>(null);

  go(screen: Screen, notice: string | null = null): void {
    this.screen = screen;
    this.notice = notice;
  }

  settings(page: SettingsPage): void {
    this.settingsPage = page;
    this.go('settings');
  }
}
