//! What an operation is called on each protocol: its name on socket.io
//! (or, for the operations only HTTP has, a name in the same style) and its
//! HTTP endpoint. Permission rules (`auth.rs`) and refusals name operations
//! by their [`Op`], so no rule spells a wire name itself. A command
//! (`super::commands`) declares its own; the others are named here.

/// An operation on the judging state, whichever protocol asked for it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Op {
    event: &'static str,
    endpoint: &'static str,
}

impl Op {
    /// The operation socket.io calls `event` and HTTP does at `endpoint`
    /// (`"POST /api/..."`).
    pub const fn new(event: &'static str, endpoint: &'static str) -> Op {
        Op { event, endpoint }
    }

    /// What a socket.io client calls it: the event name, for the operations
    /// socket.io has (the others are HTTP only and named in the same style).
    pub fn event_name(self) -> &'static str {
        self.event
    }

    /// The HTTP endpoint that does it.
    pub fn endpoint(self) -> &'static str {
        self.endpoint
    }

    /// Reading the state, once or as live updates.
    pub const SUBSCRIBE: Op = Op::new("subscribe-database", "GET /api/state");
    pub const IMPORT_DEVPOST: Op = Op::new("import-devpost", "POST /api/import/devpost");
    pub const IMPORT_JUDGES: Op = Op::new("import-judges", "POST /api/import/judges");
    pub const ASSIGN: Op = Op::new("assign", "POST /api/assignments");
    pub const RESULTS: Op = Op::new("results", "GET /api/results");
    pub const EXPORT: Op = Op::new("export", "GET /api/export");
    pub const PAUSE_JUDGING: Op = Op::new("pause-judging", "POST /api/judging/pause");
    pub const RESUME_JUDGING: Op = Op::new("resume-judging", "POST /api/judging/resume");
    pub const CLEAR_ABSENCES: Op = Op::new("clear-absences", "POST /api/absences/clear");
    pub const WITHDRAW: Op = Op::new("withdraw-hack", "POST /api/withdrawals");
    pub const FLOOR: Op = Op::new("floor", "GET /api/floor");
}
