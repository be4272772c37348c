//! Walking a stack from a fault's registers with the image's call-frame information.
//!
//! Release builds keep no frame pointers, so a frame's caller comes from `.eh_frame`
//! (found through the `.eh_frame_hdr` search table, as the shim's `_Unwind_*` and
//! Linux's unwinders do): the FDE covering the pc gives the rule for the canonical
//! frame address (CFA) and where each callee-saved register and the return address were
//! saved. Every stack read is checked (`uaccess`), so a corrupt stack ends the walk
//! instead of faulting again. No allocation: this runs in exception handlers.

use gimli::{
    BaseAddresses, CfaRule, EhFrame, EhFrameHdr, EndianSlice, NativeEndian, ParsedEhFrameHdr,
    Register, RegisterRule, UnwindContext, UnwindSection, UnwindTableRow, X86_64,
};
use unikernel_hal::exceptions::Registers;
use unikernel_hal::{image, uaccess};

/// Enough rule slots for x86-64's 17 DWARF registers (gimli wants one of its sizes).
struct StoreOnStack;

impl<O: gimli::ReaderOffset> gimli::UnwindContextStorage<O> for StoreOnStack {
    type Rules = [(Register, RegisterRule<O>); 32];
    type Stack = [UnwindTableRow<O, Self>; 2];
}

type Slice = EndianSlice<'static, NativeEndian>;

/// The image's unwind tables.
pub struct Unwinder {
    eh_frame: EhFrame<Slice>,
    header: ParsedEhFrameHdr<Slice>,
    bases: BaseAddresses,
}

/// One frame of a backtrace: the registers as they were in that function.
#[derive(Clone, Copy, Debug)]
pub struct Frame {
    pub regs: Registers,
    /// The first frame's pc is the faulting instruction; the others' are return
    /// addresses, one past their call.
    pub is_return_address: bool,
}

impl Frame {
    /// An address inside the instruction the frame is executing (for symbol lookup).
    pub fn lookup_pc(&self) -> usize {
        let pc = self.regs.rip as usize;
        if self.is_return_address {
            pc.wrapping_sub(1)
        } else {
            pc
        }
    }
}

impl Unwinder {
    /// The tables of the running image, if it has a usable `.eh_frame_hdr`.
    pub fn new() -> Option<Unwinder> {
        let (hdr, frames) = (image::eh_frame_hdr(), image::eh_frame());
        let bases = BaseAddresses::default()
            .set_eh_frame_hdr(hdr.as_ptr() as u64)
            .set_eh_frame(frames.as_ptr() as u64)
            .set_text(image::text().start as u64);
        let header = EhFrameHdr::new(hdr, NativeEndian).parse(&bases, 8).ok()?;
        Some(Unwinder {
            eh_frame: EhFrame::new(frames, NativeEndian),
            header,
            bases,
        })
    }

    /// The caller's frame of `frame`, or `None` at the end of the stack or where the
    /// tables or the stack give out.
    pub fn caller(&self, frame: &Frame) -> Option<Frame> {
        let pc = frame.lookup_pc() as u64;
        let table = self.header.table()?;
        let fde = table
            .fde_for_address(&self.eh_frame, &self.bases, pc, EhFrame::cie_from_offset)
            .ok()?;
        let mut context = UnwindContext::<usize, StoreOnStack>::new_in();
        let row = fde
            .unwind_info_for_address(&self.eh_frame, &self.bases, &mut context, pc)
            .ok()?;
        let regs = &frame.regs;
        let cfa = match *row.cfa() {
            CfaRule::RegisterAndOffset { register, offset } => {
                reg(regs, register)?.wrapping_add_signed(offset)
            }
            CfaRule::Expression(_) => return None,
        };
        let mut caller = *regs;
        caller.gpr[Registers::RSP] = cfa;
        let mut return_address = None;
        for (register, rule) in row.registers() {
            let value = match *rule {
                RegisterRule::Undefined => return None,
                RegisterRule::SameValue => reg(regs, *register)?,
                RegisterRule::Offset(offset) => read(cfa.wrapping_add_signed(offset))?,
                RegisterRule::ValOffset(offset) => cfa.wrapping_add_signed(offset),
                RegisterRule::Register(from) => reg(regs, from)?,
                RegisterRule::Constant(value) => value,
                _ => return None,
            };
            match *register {
                X86_64::RA => return_address = Some(value),
                Register(n) if n < 16 => caller.gpr[usize::from(n)] = value,
                _ => {}
            }
        }
        // x86-64 CIEs put the return address at CFA - 8; an FDE without a rule for it
        // still means that.
        caller.rip = match return_address {
            Some(ra) => ra,
            None => read(cfa.wrapping_sub(8))?,
        };
        (caller.rip != 0).then_some(Frame {
            regs: caller,
            is_return_address: true,
        })
    }

    /// Whether the tables describe `pc` at all.
    pub fn covers(&self, pc: usize) -> bool {
        self.header
            .table()
            .and_then(|t| {
                t.fde_for_address(
                    &self.eh_frame,
                    &self.bases,
                    pc as u64,
                    EhFrame::cie_from_offset,
                )
                .ok()
            })
            .is_some()
    }
}

/// The unwind rule of one pc in the form compiled x86-64 code uses: the CFA is a
/// register plus an offset, and the callee-saved registers and the return address
/// were saved at offsets from it. Found once with [`Unwinder::rule`], it gives the
/// caller of any frame at that pc without parsing the tables again (the sampling
/// profiler caches it by pc).
#[derive(Clone, Copy, Debug)]
pub struct Rule {
    cfa_register: u16,
    cfa_offset: i64,
    /// (DWARF register, offset from the CFA); the return address is register 16.
    saved: [(u16, i64); 8],
    saved_len: usize,
}

impl Unwinder {
    /// The rule for `pc` (a [`Frame::lookup_pc`]), if the tables cover it and use
    /// only the rules [`Rule`] holds.
    pub fn rule(&self, pc: usize) -> Option<Rule> {
        let table = self.header.table()?;
        let fde = table
            .fde_for_address(
                &self.eh_frame,
                &self.bases,
                pc as u64,
                EhFrame::cie_from_offset,
            )
            .ok()?;
        let mut context = UnwindContext::<usize, StoreOnStack>::new_in();
        let row = fde
            .unwind_info_for_address(&self.eh_frame, &self.bases, &mut context, pc as u64)
            .ok()?;
        let CfaRule::RegisterAndOffset { register, offset } = *row.cfa() else {
            return None;
        };
        let mut rule = Rule {
            cfa_register: register.0,
            cfa_offset: offset,
            saved: [(0, 0); 8],
            saved_len: 0,
        };
        for (register, how) in row.registers() {
            match *how {
                RegisterRule::SameValue => {}
                RegisterRule::Offset(offset) if rule.saved_len < rule.saved.len() => {
                    rule.saved[rule.saved_len] = (register.0, offset);
                    rule.saved_len += 1;
                }
                _ => return None,
            }
        }
        Some(rule)
    }
}

impl Rule {
    /// The caller's frame of `frame` (whose pc this rule is for), as
    /// [`Unwinder::caller`] finds it.
    pub fn caller(&self, frame: &Frame) -> Option<Frame> {
        let regs = &frame.regs;
        let cfa = reg(regs, Register(self.cfa_register))?.wrapping_add_signed(self.cfa_offset);
        let mut caller = *regs;
        caller.gpr[Registers::RSP] = cfa;
        let mut return_address = None;
        for &(register, offset) in &self.saved[..self.saved_len] {
            let value = read(cfa.wrapping_add_signed(offset))?;
            match Register(register) {
                X86_64::RA => return_address = Some(value),
                Register(n) if n < 16 => caller.gpr[usize::from(n)] = value,
                _ => {}
            }
        }
        caller.rip = match return_address {
            Some(ra) => ra,
            None => read(cfa.wrapping_sub(8))?,
        };
        (caller.rip != 0).then_some(Frame {
            regs: caller,
            is_return_address: true,
        })
    }
}

fn reg(regs: &Registers, register: Register) -> Option<u64> {
    match register {
        Register(n) if n < 16 => Some(regs.gpr[usize::from(n)]),
        X86_64::RA => Some(regs.rip),
        _ => None,
    }
}

/// A checked 8-byte read of stack memory.
fn read(address: u64) -> Option<u64> {
    uaccess::peek_u64(usize::try_from(address).ok()?).ok()
}

/// A frame for a fault at a bad pc (a call through a null or wild function pointer):
/// the `call` left the return address at the stack pointer.
pub fn frame_after_bad_call(regs: &Registers) -> Option<Frame> {
    let sp = regs.gpr[Registers::RSP];
    let ra = read(sp)?;
    let mut caller = *regs;
    caller.gpr[Registers::RSP] = sp + 8;
    caller.rip = ra;
    (ra != 0).then_some(Frame {
        regs: caller,
        is_return_address: true,
    })
}
