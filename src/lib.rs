pub mod judging;
