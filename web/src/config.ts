// Deployment facts the console needs (time zone of the service area), loaded once after sign-in.
import { api } from "./api";

export interface ConsoleConfig {
  timezone: string;
  attribution: string;
  /** Width of the arrival window customers are told, minutes (server dispatch_eta_window_min). */
  eta_window_min?: number;
  /** Customers are told again when their arrival moves by more than this, minutes (dispatch_eta_margin_min). */
  eta_margin_min?: number;
}

let current: ConsoleConfig = { timezone: Intl.DateTimeFormat().resolvedOptions().timeZone, attribution: "" };

export function config(): ConsoleConfig {
  return current;
}

export async function loadConfig(): Promise<ConsoleConfig> {
  current = await api<ConsoleConfig>("/console/config");
  return current;
}
