// Shapes of the server's JSON (see GET /openapi.json).

export type JobStatus = "unassigned" | "assigned" | "en_route" | "on_site" | "completed" | "unable" | "cancelled";

export interface Job {
  id: number;
  title: string;
  description: string;
  category: string;
  required_skills: Record<string, number>;
  duration_min: number;
  priority: number;
  sla_due_at: string | null;
  lat: number;
  lon: number;
  address: string | null;
  location_kind: string | null;
  location_confidence: number | null;
  status: JobStatus;
  assigned_technician_id: number | null;
  pinned: boolean;
  eta_at: string | null;
  created_at: string;
  updated_at: string;
  version: number;
  reporter_count: number;
  /** The arrival window booked with the customer (an appointment in status booked; the job carries it as a hard
   * time window), aware ISO; null when nothing is booked. */
  booked_start?: string | null;
  booked_end?: string | null;
  /** A return visit ("back with the part"): the job it follows up; the return visits of this one, in order. */
  follow_up_of?: number | null;
  follow_ups?: number[];
  /** The technician the plans prefer for it (a soft preference, not a pin). */
  preferred_technician_id?: number | null;
  /** Not before (aware ISO): the day its part arrives. */
  earliest_at?: string | null;
  /** Daily parts of a multi-day visit done so far. */
  parts_done?: number;
  /** A dispatcher unassigned it by hand: no plan places it until someone assigns it or releases it to the planner. */
  dispatch_hold?: boolean;
}

export interface Technician {
  id: number;
  name: string;
  skills: Record<string, number>;
  home_lat: number;
  home_lon: number;
  shift_start: string;
  shift_end: string;
  /** Breaks of duration_min starting between earliest and latest (local "HH:MM[:SS]"). */
  breaks?: Array<{ earliest: string; latest: string; duration_min: number }>;
  /** The weekly pattern: ISO weekday "1" (Monday) .. "7" -> local hours or "off"; a weekday left out works
   * shift_start..shift_end. */
  weekly_shifts?: Record<string, { start: string; end: string } | "off">;
  availability: string;
  current_lat: number | null;
  current_lon: number | null;
  last_seen_at: string | null;
}

export interface PlanStop {
  technician_id: number;
  job_id: number;
  sequence: number;
  arrival_at: string;
  start_at: string;
  end_at: string;
  travel_s: number;
  wait_s: number;
  distance_m: number;
}

export interface Plan {
  id: number;
  version: number;
  status: string;
  trigger: string;
  day: string;
  created_at: string;
  objective: Record<string, unknown>;
  stats: Record<string, unknown>;
  diff: Record<string, unknown>;
  unassigned: Array<Record<string, unknown>>;
  stops: PlanStop[];
}

/** One technician's hours on one day the board shows (GET /horizon `shifts`), or why they do not work it. */
export interface TechnicianDay {
  technician_id: number;
  day: string;
  start: string | null;
  end: string | null;
  breaks: Array<{ earliest: string; latest: string; duration_min: number }>;
  /** "absence" (see reason), "day off" (weekly pattern), or the availability ("off", "sick"); null: works. */
  off: string | null;
  reason: string;
}

/** A tentative visit of the horizon plan (the working days after today); part of parts of a multi-day visit. */
export interface HorizonVisit {
  job_id: number;
  job_title: string;
  address: string | null;
  priority: number;
  technician_id: number;
  technician_name: string;
  day: string;
  sequence: number;
  start_at: string;
  end_at: string;
  part: number;
  parts: number;
}

export interface Horizon {
  run_id: number | null;
  created_at: string | null;
  days: string[];
  visits: HorizonVisit[];
  unassigned: Array<{ job_id: number; reason: string }>;
  shifts?: TechnicianDay[];
}

export interface Conversation {
  id: number;
  customer_id: number;
  channel: string;
  subject: string;
  status: string;
  created_at: string;
  last_message_at: string;
}

export interface Message {
  id: number;
  conversation_id: number;
  customer_id: number | null;
  channel: string;
  direction: "inbound" | "outbound";
  author_kind: string;
  author_name: string;
  text: string;
  visibility: string;
  sent_at: string;
  lat: number | null;
  lon: number | null;
  place_name: string | null;
  delivery_status: string;
}

export interface Case {
  id: number;
  conversation_id: number;
  customer_id: number;
  status: string;
  category: string | null;
  priority: number;
  sla_due_at: string | null;
  needs_field_work: boolean;
  lat: number | null;
  lon: number | null;
  location_text: string | null;
  category_confidence: number | null;
  sentiment: number | null;
  urgency: number | null;
  triage: Record<string, unknown>;
  geotag: Record<string, unknown>;
  job_id: number | null;
  created_at: string;
}

export interface Identity {
  id: number;
  channel: string;
  handle: string;
  display_name: string;
  verified: boolean;
}

export interface Customer {
  id: number;
  display_name: string;
  address: string | null;
  address_lat: number | null;
  address_lon: number | null;
  preferred_channel: string | null;
  merged_into_id: number | null;
  identities?: Identity[];
}

export interface LiveEvent {
  type: string;
  id: string;
  at: string;
  data: Record<string, unknown>;
}
