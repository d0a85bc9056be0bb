"""pimtrain.isa: assembly round trip, checks of malformed programs (one line naming instruction and line), stats."""
from __future__ import annotations

import functools

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from typer.testing import CliRunner

from pimtrain.cli import app
from pimtrain.isa import (
    Alu, AluImm, Beq, Copy, Crs, Halt, Jmp, Load, Machine, Mvm, Program, ProgramError, Receive, Reg, Send, Set,
    Store, check, format_program, parse_program, program_stats,
)
from pimtrain.isa.instructions import BINARY_OPS, IMMEDIATE_OPS, UNARY_OPS

M = Machine(tiles=2, cores=2, mvmus=2, rows=8, cols=8, regs=32, edram=256)

SAMPLE = """\
.machine tiles=2 cores=2 mvmus=2 rows=8 cols=8 regs=32 edram=256
.core 0.0
ld xi0.0, [0] vec=8
mvm m0=f m1=fto
crs m0 m1
alu add r0, xo0.0, xo1.0 vec=8
alu sigmoid_d r8, r0 vec=8
alui mul r0, r0, 0.01 vec=8
cp xi1.0, r0 vec=8
set r16, -3 vec=2
beq r16, r17, 0
jmp 10
st [16], r0 count=2 vec=8
hlt
.tile 0
send [16] to=1 vec=8
hlt
.tile 1
recv [0] from=0 count=1 vec=8
hlt
"""


def test_sample_round_trips_and_counts():
    p = parse_program(SAMPLE)
    assert format_program(p) == SAMPLE
    s = program_stats(p)
    assert s["instructions"] == 16
    assert s["matrix_unit_ops"] == {"forward": 2, "transposed": 1, "outer_product": 1}
    assert s["crs_unit_ops"] == 2 and s["alu_lanes"] == 24
    assert s["edram_words_read"] == 8 and s["edram_words_written"] == 8
    assert s["network_words_sent"] == 8 == s["network_words_received"]
    assert s["by_class"] == {"matrix": 2, "alu": 3, "memory": 4, "control": 5, "network": 2}
    assert (s["cores_used"], s["tiles_used"], s["streams"]) == (1, 2, 3)


def test_comments_and_blank_lines_are_not_canonical_but_parse():
    text = SAMPLE.replace("crs m0 m1\n", "crs m0 m1   # carry resolution\n\n")
    p = parse_program(text)
    assert format_program(p) == SAMPLE


# ------------------------------------------------------------------------------------------- round trip
@functools.lru_cache(maxsize=None)
def regs(vec_max=1):
    r = st.builds(lambda i: Reg("r", 0, i), st.integers(0, M.regs - vec_max))
    x = st.builds(lambda f, u, i: Reg(f, u, i), st.sampled_from(["xi", "xo"]), st.integers(0, M.mvmus - 1),
                  st.integers(0, M.rows - vec_max))
    return st.one_of(r, x)


@functools.lru_cache(maxsize=None)
def core_instruction(n):
    vec = st.integers(1, 4)
    addr = st.integers(0, M.edram - 4)
    modes = st.sampled_from(["f", "t", "o", "ft", "fto", "to", "of"])
    units = st.lists(st.integers(0, M.mvmus - 1), min_size=1, max_size=M.mvmus, unique=True)
    imm = st.floats(-1e6, 1e6, allow_nan=False, allow_infinity=False)
    return st.one_of(
        units.flatmap(lambda us: st.tuples(*[modes for _ in us]).map(lambda ms: Mvm(tuple(zip(us, ms))))),
        units.map(lambda us: Crs(tuple(us))),
        st.builds(Alu, st.sampled_from(BINARY_OPS), regs(4), regs(4), regs(4), vec),
        st.builds(lambda o, d, s, v: Alu(o, d, s, None, v), st.sampled_from(UNARY_OPS), regs(4), regs(4), vec),
        st.builds(AluImm, st.sampled_from(IMMEDIATE_OPS), regs(4), regs(4), imm, vec),
        st.builds(Load, regs(4), addr, vec),
        st.builds(Store, addr, regs(4), st.integers(1, 3), vec),
        st.builds(Copy, regs(4), regs(4), vec),
        st.builds(Set, regs(4), st.integers(-100, 100), vec),
        st.builds(Jmp, st.integers(0, n - 1)),
        st.builds(Beq, regs(), regs(), st.integers(0, n - 1)),
        st.just(Halt()),
    )


@st.composite
def programs(draw):
    p = Program(M)
    for t in range(M.tiles):
        for c in range(M.cores):
            n = draw(st.integers(1, 12))
            if draw(st.booleans()):
                p.stream(t, c).instructions = [draw(core_instruction(n)) for _ in range(n)]
    msgs = draw(st.lists(st.tuples(st.integers(0, 1), st.integers(1, 4)), max_size=5))
    for src, vec in msgs:
        p.stream(src, None).instructions.append(Send(draw(st.integers(0, 200)), 1 - src, vec))
        p.stream(1 - src, None).instructions.append(Receive(draw(st.integers(0, 200)), src, 1, vec))
    return p


@settings(max_examples=100, deadline=None)
@given(programs())
def test_print_parse_print_is_identical(p):
    check(p)
    text = format_program(p)
    q = parse_program(text)
    assert format_program(q) == text
    assert [s.instructions for s in q.streams] == [s.instructions for s in p.streams]
    assert program_stats(q) == program_stats(p)


# ------------------------------------------------------------------------------------------- malformed
BAD = [
    ("alu add r0, xo0.0, xo1.0 vec=8", "fma r0, r1", "line 6: `fma r0, r1`: unknown opcode 'fma'"),
    ("ld xi0.0, [0] vec=8", "ld r40, [0] vec=8", "line 3: `ld r40, [0] vec=8` (core 0.0): register r40 (vec=8) out of range"),
    ("ld xi0.0, [0] vec=8", "ld xi0.4, [0] vec=8", "register xi0.4 (vec=8) out of range"),
    ("mvm m0=f m1=fto", "mvm m0=f m2=t", "line 4: `mvm m0=f m2=t` (core 0.0): matrix unit 2 does not exist"),
    ("crs m0 m1", "crs m5", "line 5: `crs m5` (core 0.0): matrix unit 5 does not exist"),
    ("cp xi1.0, r0 vec=8", "cp xi3.0, r0 vec=8", "matrix unit 3 does not exist"),
    ("send [16] to=1 vec=8", "hlt", "line 19: `recv [0] from=0 count=1 vec=8` (tile 1): receive with no send"),
    ("recv [0] from=0 count=1 vec=8", "hlt", "line 16: `send [16] to=1 vec=8` (tile 0): send with no receive"),
    ("recv [0] from=0 count=1 vec=8", "recv [0] from=0 count=1 vec=4", "vec=4 but the matching send"),
    ("jmp 10", "jmp 12", "line 12: `jmp 12` (core 0.0): jump target 12 outside the stream"),
    ("st [16], r0 count=2 vec=8", "st [250], r0 count=2 vec=8", "eDRAM address [250] (vec=8) out of range"),
    ("alu sigmoid_d r8, r0 vec=8", "alu add r8, r0 vec=8", "alu add needs two source registers"),
    ("alu sigmoid_d r8, r0 vec=8", "alu exp r8, r0 vec=8", "unknown alu operation 'exp'"),
    ("mvm m0=f m1=fto", "mvm m0=x", "mode 'x' of unit 0"),
    ("alui mul r0, r0, 0.01 vec=8", "alui mul r0, r0, nan vec=8", "immediate 'nan'"),
    ("hlt\n.tile 0", "send [16] to=1 vec=8\n.tile 0", "not a core instruction"),
    (".core 0.0", ".core 0.2", ".core 0.2: core 2 does not exist"),
    ("set r16, -3 vec=2", "set r16, 1.5 vec=2", "immediate '1.5' is not an integer"),
    ("ld xi0.0, [0] vec=8", "ld xi0.0, [0] width=8", "unknown option width"),
]


@pytest.mark.parametrize("old,new,message", BAD, ids=[b[2][:40] for b in BAD])
def test_malformed_program_is_refused_in_one_line(old, new, message):
    text = SAMPLE.replace(old, new, 1)
    assert text != SAMPLE
    with pytest.raises(ProgramError) as exc:
        parse_program(text)
    msg = str(exc.value)
    assert message in msg and "\n" not in msg


def test_program_built_in_python_names_its_printed_line():
    p = Program(M)
    p.stream(0, 1).instructions = [Halt(), Mvm(((3, "f"),))]
    with pytest.raises(ProgramError, match=r"^line 4: `mvm m3=f` \(core 0.1\): matrix unit 3 does not exist"):
        check(p)


def test_cli_check_program(tmp_path):
    good, bad = tmp_path / "good.s", tmp_path / "bad.s"
    good.write_text(SAMPLE)
    bad.write_text(SAMPLE.replace("mvm m0=f m1=fto", "mvm m0=f m9=t"))
    r = CliRunner().invoke(app, ["check-program", str(good), "--json"])
    assert r.exit_code == 0, r.output
    assert '"instructions": 16' in r.output
    r = CliRunner().invoke(app, ["check-program", str(bad)])
    assert r.exit_code == 2
    lines = [ln for ln in r.output.splitlines() if ln.strip()]
    assert len(lines) == 1 and "line 4: `mvm m0=f m9=t`" in lines[0] and "matrix unit 9 does not exist" in lines[0]


@settings(max_examples=300, deadline=None)
@given(st.lists(st.sampled_from(SAMPLE.splitlines() + [
    ".machine tiles=0", ".core x", ".tile -1", "mvm", "mvm m0", "mvm m=f", "alu", "alui add r0, r0, 1e400 vec=1",
    "ld r0 [x]", "st [1], r0 count=-1", "recv [0] from=9", "send [0] to=", "set r0, 99999999999999999999 vec=1",
    "jmp -1", "beq r0 r0 1", "cp xi9.0, r0", ".input x tile=0", ".output y tile=0 addr=0 vec=1 offset=0 count=1",
    "hlt extra", "ld r0, [0] vec=0", "\x00", "crs", "crs m-1", "st [0], r0 vec=1 vec=2"]), max_size=30))
def test_any_text_gives_a_program_or_one_line_error(lines):
    try:
        p = parse_program("\n".join(lines))
    except ProgramError as exc:
        assert "\n" not in str(exc)
    else:
        assert format_program(parse_program(format_program(p))) == format_program(p)
