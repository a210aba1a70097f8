pub mod judging;
pub mod clicker_marks;
