//! Line drawing for the service map: each cell records the directions lines leave it in, so
//! lines that cross or merge join (`┼ ┳ ╬`); a cell takes the thickest line through it and the
//! style of the highest-ranked (worst) one.

use ratatui::layout::Rect;
use ratatui::style::Style;

/// North.
pub const N: u8 = 1;
/// East.
pub const E: u8 = 2;
/// South.
pub const S: u8 = 4;
/// West.
pub const W: u8 = 8;

/// The box-drawing character joining the directions in `bits` at a thickness.
pub fn glyph(bits: u8, thick: u8) -> char {
    const LIGHT: [char; 16] = [
        ' ', '│', '─', '└', '│', '│', '┌', '├', '─', '┘', '─', '┴', '┐', '┤', '┬', '┼',
    ];
    const HEAVY: [char; 16] = [
        ' ', '┃', '━', '┗', '┃', '┃', '┏', '┣', '━', '┛', '━', '┻', '┓', '┫', '┳', '╋',
    ];
    const DOUBLE: [char; 16] = [
        ' ', '║', '═', '╚', '║', '║', '╔', '╠', '═', '╝', '═', '╩', '╗', '╣', '╦', '╬',
    ];
    let t = match thick {
        0 => &LIGHT,
        1 => &HEAVY,
        _ => &DOUBLE,
    };
    t[(bits & 15) as usize]
}

/// One cell of line drawing.
#[derive(Clone, Copy, Default)]
pub struct Cell {
    /// Directions the lines leave the cell in (N 1, E 2, S 4, W 8).
    pub bits: u8,
    /// 0 light, 1 heavy, 2 double.
    pub thick: u8,
    /// Colour rank: the highest rank's style wins a shared cell.
    pub rank: u8,
    /// Style of the line.
    pub style: Style,
    /// Part of the selected service's edges.
    pub bold: bool,
}

/// Line drawing over an area, before it is written to the frame.
pub struct Canvas {
    /// The area drawn on.
    pub area: Rect,
    /// Cells, row by row.
    pub cells: Vec<Cell>,
}

impl Canvas {
    fn at(&mut self, x: u16, y: u16) -> Option<&mut Cell> {
        let a = self.area;
        if x < a.x || y < a.y || x >= a.right() || y >= a.bottom() {
            return None;
        }
        let i = (y - a.y) as usize * a.width as usize + (x - a.x) as usize;
        self.cells.get_mut(i)
    }

    /// Adds direction `bits` to the cell at (x, y), with `c`'s thickness and colour.
    pub fn mark(&mut self, x: u16, y: u16, bits: u8, c: &Cell) {
        if let Some(cell) = self.at(x, y) {
            cell.bits |= bits;
            cell.thick = cell.thick.max(c.thick);
            cell.bold |= c.bold;
            if c.rank >= cell.rank {
                cell.rank = c.rank;
                cell.style = c.style;
            }
        }
    }

    /// A horizontal line from x0 to x1 at y.
    pub fn hline(&mut self, x0: u16, x1: u16, y: u16, c: &Cell) {
        let (a, b) = (x0.min(x1), x0.max(x1));
        for x in a..=b {
            let mut bits = 0;
            if x > a {
                bits |= W;
            }
            if x < b {
                bits |= E;
            }
            self.mark(x, y, bits, c);
        }
    }

    /// A vertical line from y0 to y1 at x.
    pub fn vline(&mut self, x: u16, y0: u16, y1: u16, c: &Cell) {
        let (a, b) = (y0.min(y1), y0.max(y1));
        for y in a..=b {
            let mut bits = 0;
            if y > a {
                bits |= N;
            }
            if y < b {
                bits |= S;
            }
            self.mark(x, y, bits, c);
        }
    }
}
