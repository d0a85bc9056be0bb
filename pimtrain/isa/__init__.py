"""PANTHER's instruction set: typed records (``instructions``), programs and their checks (``program``), the text
assembly (``asm``) and static statistics (``stats``)."""
from .asm import format_instruction, format_program, parse_program
from .instructions import (
    Alu, AluImm, Beq, Copy, Crs, Halt, Jmp, Load, Mvm, Receive, Reg, Send, Set, Store,
)
from .program import Machine, Port, Program, ProgramError, Stream, check, number_lines
from .stats import program_stats

__all__ = [
    "Alu", "AluImm", "Beq", "Copy", "Crs", "Halt", "Jmp", "Load", "Machine", "Mvm", "Port", "Program", "ProgramError",
    "Receive", "Reg", "Send", "Set", "Store", "Stream", "check", "format_instruction", "format_program",
    "number_lines", "parse_program", "program_stats",
]
