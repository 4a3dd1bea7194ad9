pub mod prom_text;
