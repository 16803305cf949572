// What start-up repair did, returned by reconcile() and logged: the parts of the repair
// (open-segments.ts, orphans.ts, rebuild.ts) each add what they found.
export interface ReconcileReport {
  repaired: { recording_id: string; seq: number; cut_bytes: number; adopted_messages: number }[];
  adopted: string[];
  removed_partial: string[];
  rebuilt: string[];
}
