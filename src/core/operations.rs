//! The table of judging operations: each one's name on socket.io (or, for
//! the operations only HTTP has, a name in the same style) and its HTTP
//! endpoint. Permission rules (`auth.rs`) and refusals name operations
//! through this table, so no rule spells a wire name itself.

/// An operation on the judging state, whichever protocol asked for it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Op {
    AddHack,
    AddJudge,
    AddSuperlative,
    RateHack,
    UnrateHack,
    RankSuperlative,
    /// Reading the state, once or as live updates.
    Subscribe,
    ImportDevpost,
    ImportJudges,
    Assign,
    Results,
    Export,
    MarkAbsent,
    NoteHack,
    PauseJudging,
    ResumeJudging,
    ClearAbsences,
    Withdraw,
    Floor,
}

impl Op {
    /// What a socket.io client calls it: the event name, for the operations
    /// socket.io has (the others are HTTP only and named in the same style).
    pub fn event_name(self) -> &'static str {
        match self {
            Op::AddHack => "add-hack",
            Op::AddJudge => "add-judge",
            Op::AddSuperlative => "add-superlative",
            Op::RateHack => "rate-hack",
            Op::UnrateHack => "unrate-hack",
            Op::RankSuperlative => "rank-superlative",
            Op::Subscribe => "subscribe-database",
            Op::ImportDevpost => "import-devpost",
            Op::ImportJudges => "import-judges",
            Op::Assign => "assign",
            Op::Results => "results",
            Op::Export => "export",
            Op::MarkAbsent => "mark-absent",
            Op::NoteHack => "note-hack",
            Op::PauseJudging => "pause-judging",
            Op::ResumeJudging => "resume-judging",
            Op::ClearAbsences => "clear-absences",
            Op::Withdraw => "withdraw-hack",
            Op::Floor => "floor",
        }
    }

    /// The HTTP endpoint that does it.
    pub fn endpoint(self) -> &'static str {
        match self {
            Op::AddHack => "POST /api/hacks",
            Op::AddJudge => "POST /api/judges",
            Op::AddSuperlative => "POST /api/superlatives",
            Op::RateHack => "POST /api/ratings",
            Op::UnrateHack => "DELETE /api/judges/{judgeId}/ratings/{hackId}",
            Op::RankSuperlative => "POST /api/placements",
            Op::Subscribe => "GET /api/state",
            Op::ImportDevpost => "POST /api/import/devpost",
            Op::ImportJudges => "POST /api/import/judges",
            Op::Assign => "POST /api/assignments",
            Op::Results => "GET /api/results",
            Op::Export => "GET /api/export",
            Op::MarkAbsent => "POST /api/absences",
            Op::NoteHack => "POST /api/notes",
            Op::PauseJudging => "POST /api/judging/pause",
            Op::ResumeJudging => "POST /api/judging/resume",
            Op::ClearAbsences => "POST /api/absences/clear",
            Op::Withdraw => "POST /api/withdrawals",
            Op::Floor => "GET /api/floor",
        }
    }
}
