pub mod sketch;
