// The judging tables as the event stream delivers them: an update-full
// replaces everything, an update-partial carries rows to merge by id.

export const TABLES = [
  'hacks', 'judges', 'judgeHacks', 'superlatives',
  'superlativePlacements', 'ratings', 'superlativeHacks',
  'absences', 'notes', 'judgingStatus', 'withdrawals',
];

export class Tables {
  constructor() {
    for (const name of TABLES) this[name] = new Map();
  }

  /** Replaces every table with the rows of an update-full's database. */
  load(database) {
    for (const name of TABLES) {
      this[name] = new Map((database[name] || []).map((row) => [row.id, row]));
    }
  }

  /** Merges the rows of an update-partial's diff (added or changed rows). */
  merge(diff) {
    for (const name of TABLES) {
      for (const row of diff[name] || []) this[name].set(row.id, row);
    }
  }

  /** A table's rows in id order. */
  rows(name) {
    return [...this[name].values()].sort((a, b) => a.id - b.id);
  }
}
