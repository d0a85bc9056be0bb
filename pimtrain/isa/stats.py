"""Static statistics of a program: instructions by opcode and class, matrix-unit operations by mode, vector-ALU
lanes, eDRAM and network words, streams, cores and tiles used. Static: each instruction counted once as written
(a loop body is not multiplied by its trip count)."""
from __future__ import annotations

from collections import Counter

from .instructions import CLASSES, OPCODES, Alu, AluImm, Crs, Load, Mvm, Receive, Send, Store
from .program import Program

_MODE_NAMES = {"f": "forward", "t": "transposed", "o": "outer_product"}


def program_stats(program: Program) -> dict:
    by_op: Counter = Counter()
    by_class: Counter = Counter()
    mvm_modes: Counter = Counter()
    crs_units = alu_lanes = edram_read = edram_written = sent = received = 0
    for s in program.streams:
        for ins in s.instructions:
            by_op[ins.opcode] += 1
            by_class[ins.klass] += 1
            if isinstance(ins, Mvm):
                for _, modes in ins.modes:
                    for c in modes:
                        mvm_modes[_MODE_NAMES[c]] += 1
            elif isinstance(ins, Crs):
                crs_units += len(ins.units)
            elif isinstance(ins, (Alu, AluImm)):
                alu_lanes += ins.vec
            elif isinstance(ins, Load):
                edram_read += ins.vec
            elif isinstance(ins, Store):
                edram_written += ins.vec
            elif isinstance(ins, Send):
                sent += ins.vec
            elif isinstance(ins, Receive):
                received += ins.vec
    cores = {(s.tile, s.core) for s in program.streams if s.core is not None and s.instructions}
    return {
        "instructions": sum(by_op.values()),
        "by_opcode": {op: by_op[op] for op in OPCODES if by_op[op]},
        "by_class": {c: by_class[c] for c in CLASSES},
        "matrix_unit_ops": {m: mvm_modes[m] for m in _MODE_NAMES.values()},
        "crs_unit_ops": crs_units,
        "alu_lanes": alu_lanes,
        "edram_words_read": edram_read,
        "edram_words_written": edram_written,
        "network_words_sent": sent,
        "network_words_received": received,
        "streams": len(program.streams),
        "cores_used": len(cores),
        "tiles_used": len({s.tile for s in program.streams if s.instructions}),
    }
