// Deployment facts the console needs (time zone of the service area), loaded once after sign-in.
import { api } from "./api";

export interface ConsoleConfig {
  timezone: string;
  attribution: string;
}

let current: ConsoleConfig = { timezone: Intl.DateTimeFormat().resolvedOptions().timeZone, attribution: "" };

export function config(): ConsoleConfig {
  return current;
}

export async function loadConfig(): Promise<ConsoleConfig> {
  current = await api<ConsoleConfig>("/console/config");
  return current;
}
