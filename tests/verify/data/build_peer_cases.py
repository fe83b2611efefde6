r"""Builds peer_cases.jsonl: answer-equivalence cases labelled by peer projects' own tests.

Each case is (gold, prediction, label) as a peer's test suite states it, re-typed here (no
code copied) with its source. The label is the peer's, even where we read the case
differently (those rows carry a `dispute` note and count against our agreement); the
agreement on these rows is what `tests/verify/test_peer_cases.py` measures.

Sources (public repositories, read in December 2026):

- `mv:` huggingface/Math-Verify, tests/test_all.py (MIT), the short cases of its
  parametrized tests (`compare_strings`: latex + expr extraction). Long whole-solution
  cases are left out.
- `mv-str:` huggingface/Math-Verify, tests/test_yujianll.py, `parse` + `verify` defaults.
- `nemo:` NVIDIA/NeMo-Skills, tests/test_math_equal.py (Apache-2.0); its pairs are asserted
  in both directions, so both are listed.

    python tests/verify/data/build_peer_cases.py     # rewrites peer_cases.jsonl
"""

from __future__ import annotations

import json
import math
from pathlib import Path

OUT = Path(__file__).with_name("peer_cases.jsonl")

MV = "huggingface/Math-Verify tests/test_all.py"
MVS = "huggingface/Math-Verify tests/test_yujianll.py"
NEMO = "NVIDIA/NeMo-Skills tests/test_math_equal.py"

# (source, test, gold, prediction, label, dispute)
CASES: list[tuple] = []


def add(source, test, gold, pred, label, dispute=""):
    CASES.append((source, test, gold, pred, label, dispute))


# -- Math-Verify: number extraction -------------------------------------------------------
t = "test_number_extraction"
for gold, pred, label in [
    ("-5", "-5", 1), ("7425000", "7,425,000", 1), ("1000", "1 000", 1), ("1000", "1000.0", 1),
    ("1000.0", "1,000.0", 1), ("1000.99", "1,000.99", 1), ("0.4", ".4", 1),
    ("1000.99", "$1,000.99", 1), ("1000.99", "1,000.99$", 1), ("2", "AZYUK2A", 0),
]:
    add(MV, t, gold, pred, label)
add(MV, t, "1000.99", "1000,99", 1)
add(MV, t, "1,22", "1.22", 1)
add(MV, t, "0,111", "0.111", 1)
add(MV, t, "1000.99", "the number is not 10 which is 1,000.99€", 1)
add(MV, t, "1000.99", "so the number is 10 which is 1,000.99m²", 1)

# -- Math-Verify: fractions, sets --------------------------------------------------------
add(MV, "test_simple_fraction_notation", "10/9", r"\frac{10}{9}", 1)
add(MV, "test_simple_fraction_notation", "-10/9", r"-\frac{10}{9}", 1)
t = "test_sets_handling"
for gold, pred, label in [("$[0,1)$", "$[0,1)$", 1), ("$[0,9)$", "$[0,1)$", 0),
                          ("$(0,9)$", "$[0,9)$", 0), ("$1$", "$-[0,1)$", 0)]:
    add(MV, t, gold, pred, label)

# -- Math-Verify: latex notation ---------------------------------------------------------
t = "test_latex_notation"
for gold, pred, label in [
    ("$9$", r"Answer \[ 9 \]", 1), ("$9$", "Answer $ 9 $", 1), ("$9$", "Answer $$ 9 $$", 1),
    ("$9$", r"Answer \( 9 \)", 1), ("$10$", r"Answer \( (9+1) \)", 1),
    ("$9$", "Answer \\[ \n 9 \n \\]", 1), ("$9$", "Answer $$ \n 9 \n $$", 1),
    ("$1/3$", r"$\frac13 $", 1), ("$1$", r"$\frac3{3} $", 1), (r"$\sqrt{3}$", r"$\sqrt3 $", 1),
    ("$1/3$", r"$\cfrac{1}{3} $", 1), ("$1/3$", r"$\dfrac{1}{3} $", 1),
    ("$1/3$", r"$\tfrac{1}{3} $", 1), ("$1/3$", "$ 1/3 $", 1),
    ("$1/3$", r"$\left( \frac{1}{3} \right)$", 1), ("$1/3$", r"$\boxed{\frac{1}{3}}$", 1),
    ("$1/3$", r"$\frac{1}{3} \text{meters}$", 1), ("$1/3$", r"$\frac{1}{3} \textbf{meters}$", 1),
    ("$1/3$", r"$k = \frac{1}{3}$", 1),
]:
    add(MV, t, gold, pred, label)
LINE_BREAK = "a line break inside inline math is still math to a reader: the answer is 9"
add(MV, t, "$9$", "Answer $ \n 9 \n $", 0, LINE_BREAK)
add(MV, t, "$9$", "Answer \\( \n 9 \n \\)", 0, LINE_BREAK)

# -- Math-Verify: percent ----------------------------------------------------------------
t = "test_percent_notation"
for gold, pred, label in [
    (r"$28\%$", "28 percent", 1), (r"$28\%$", "28 pct", 1), (r"$28\%$", "28 %", 1),
    (r"$28\%$", "$28$ %", 1), (r"$28\%$", "$28$ percent", 1), (r"$28\%$", r"$\boxed{28}$ pct", 1),
    (r"$28\%$", r"$\boxed{28 pct}", 1), (r"$28\%$", r"$\boxed{28 percent}", 1),
    (r"$28\%$", r"$\boxed{28 percentage}", 1), (r"$28\%$", "28", 1), ("$0.28$", "28", 0),
    ("$28/100$", "28", 0), ("$28$", "28/100", 0), (r"$\frac{28}{100}$", "28", 0),
    (r"$28*\frac{1}{100}$", "28", 0),
]:
    add(MV, t, gold, pred, label)

# -- Math-Verify: latex notation in solutions (short ones) --------------------------------
t = "test_latex_notation_math"
for gold, pred, label in [
    ("$2-2p$", (r"Since $x<2$, it follows that $|x-2|=2-x$. If $2-x=p$, then $x=2-p$. "
                r"Thus $x-p=\boxed{2-2p}$."), 1),
    (r"$\frac{14}{3}$", (r"$f(-2)+f(-1)+f(0)=\frac{-8}{-4}+\frac{-5}{-3}+\frac{-2}{-2}"
                         r"=2+\frac{5}{3}+1=\boxed{\frac{14}{3}}$"), 1),
    (r"$\text{Evelyn}$", r"Therefore, $\boxed{\text{Evelyn}}$ is our answer.", 1),
    (r"$3\sqrt{13}$", r"$\sqrt{36 + 81} = \sqrt{117} = \boxed{3\sqrt{13}}.$", 1),
    ("$2$", r"Thus, there are $\boxed{2}$ distinct possible values for $B$.", 1),
    (r"$90^\circ$", r"\angle BAC &= 50^\circ+40^\circ = \boxed{90^\circ}.", 1),
    ("$(6,31,-1)$", r"we find $(p,q,r) = \boxed{(6,31,-1)}.$", 1),
    (r"$1 \pm \sqrt{19}$", r"By the quadratic formula, $x = \boxed{1 \pm \sqrt{19}}.$", 1),
    (r"$3 \pm 2 \sqrt{2}$", r"the roots are $x = \boxed{3 \pm 2 \sqrt{2}}.$", 1),
    (r"$\{1\pm\sqrt{5},-2\}$", r"so the answer is $\boxed{\{1\pm\sqrt{5},-2\}}.$", 1),
    (r"$2 \sin b \cos a$", r"\[\sin (a + b) - \sin (a - b) = \boxed{2 \sin b \cos a}.\]", 1),
    ("$125$ miles", r"The distance is $\boxed{125\textnormal{ miles}}.$", 1),
    (r"$[-1, -\frac{1}{2}) \cup (-\frac{1}{2}, 0) \cup (0, 1) \cup (1, \infty)$",
     (r"The solution set is $\boxed{[-1, -\tfrac12) \cup (-\tfrac12, 0) \cup (0, 1) \cup "
      r"(1, \infty)}.$"), 1),
    (r"$\sqrt{2}+\sqrt{5}$", r"The answer is $\boxed{\sqrt 2+\sqrt 5}$", 1),
    (r"$\frac{9}{4}\pi$", r"Therefore $\boxed{\frac94\pi}$.", 1),
    (r"x \in \boxed{\{-1\} \cup [0,7)}.$", r"x \in \boxed{\{-1\} \cup [0,7)}.$", 1),
    (r"$15\mbox{ cm}^2$", r"the area is $\boxed{15\text{ cm}^2}.$", 1),
]:
    add(MV, t, gold, pred, label)

# -- Math-Verify: relations --------------------------------------------------------------
t = "test_relations_math"
for gold, pred, label in [
    ("$x >= 5$", r"Therefore $x \geq 5$ is the solution.", 1),
    ("$x < 3$", r"We find that $x \lt 3$.", 1),
    (r"$x \leq 2$", "Thus $x <= 2$ is our answer.", 1),
    ("$x > 5$", r"Therefore $x \gt 5$ is the solution.", 1),
    ("$x != 3$", r"We find that $x \neq 3$.", 1),
    ("$x > 5$", "Therefore $x < 5$ is the solution.", 0),
    (r"$x \geq 5$", r"The solution is $x \leq 5$", 0),
    (r"$x \neq 5$", "The solution is $x != 5$", 1),
    (r"$x \leq 5$", r"$5 \geq x$", 1), (r"$x \geq 5$", r"$5 \leq x$", 1),
    ("$x = 11$", "$x = 5+5+1 = 7 =11$", 1), ("$7 = 11a+c$", "$11a+c$", 0),
    ("$x = 1/3$", r"$x = 5+5+1 = 1/3 \approx 11$", 1), ("$11$", "$x=11$", 1),
    ("$11$", r"$x\approx11$", 1), ("$1/3$", r"$x=1/3\approx1.3$", 1),
    ("$x < 1$", "$-x > -1$", 1), ("$x < 1$", "$x > -1$", 0), ("$x <= 1$", "$-x >= -1$", 1),
    ("$a +3z = 0$", "$0$", 0), ("$2x + z = 1$", "$1$", 0),
    ("$a^2 + b = 0$", "$0$", 0), ("$k=1$", "$1$", 1), ("$1$", "$k=1$", 1),
    ("$z = 1 + 1 = 2$", "$z = 3+3 = 2$", 1),
    ("$2x+4y-3=0$", r"$y=-\frac{1}{2}x+\frac{3}{4}$", 1),
    ("$x^2/4 + y^2/3 = 1$", "$x^2/16 + y^2/12 = 1/4$", 1),
]:
    add(MV, t, gold, pred, label)

# -- Math-Verify: matrices ---------------------------------------------------------------
t = "test_matrix_extraction"
for gold, pred, label in [
    (r"$\begin{pmatrix}1 & 0 \\ 0 & 1\end{pmatrix}$",
     r"The identity matrix is $ \begin{pmatrix}1 & 0 \\ 0 & 1\end{pmatrix} $.", 1),
    (r"$\begin{bmatrix}0 & 0 \\0 & 0\end{bmatrix}$",
     r"Here is a zero matrix: $ \begin{pmatrix}0 & 0 \\0 & 0\end{pmatrix} $", 1),
    (r"$\begin{pmatrix}1 & 2 \\3 & 4\end{pmatrix}$",
     r"Special matrix: $ \left[\begin{array}{cc}1 & 2 \\3 & 4\end{array}\right] $", 1),
    (r"$\begin{pmatrix}\frac{1}{2} & \frac{3}{4} \\ \frac{5}{6} & \frac{7}{8}\end{pmatrix}$",
     (r"Matrix with fractions: $ \begin{pmatrix}\frac{1}{2} & \frac{3}{4} \\ \frac{5}{6} & "
      r"\frac{7}{8}\end{pmatrix} $"), 1),
    (r"$\begin{pmatrix}6 & 8 \\ 10 & 12\end{pmatrix}$",
     (r"The sum is $\begin{pmatrix}1 & 2 \\ 3 & 4\end{pmatrix} + \begin{pmatrix}5 & 6 \\ 7 & 8"
      r"\end{pmatrix}$"), 1),
    (r"$\begin{pmatrix}1 & 2 \\ 3 & 4\end{pmatrix}$",
     r"The matrix is $\begin{pmatrix}1 & 2 \\ 3 & 5\end{pmatrix}$", 0),
]:
    add(MV, t, gold, pred, label)

# -- Math-Verify: tests taken from the Qwen parser ------------------------------------------
t = "test_complex_math_expressions"
for gold, pred, label in [
    (r"$\frac{1}{12}$", "$0.0833333333333333$", 1), (r"$(1,\frac{9}{2})$", "$(1,4.5)$", 1),
    (r"$\frac{x+2}{7}$", r"$\frac{x}{7}+\frac{2}{7}$", 1), (r"$\tan^2(y)+1$", r"$\sec^2(y)$", 1),
    ("$34x+45y-20z+100=0$", "$-34x-45y+20z-100=0$", 1),
    (r"$\frac{\sqrt{\sqrt{11}+\sqrt{194}}}{15+2\sqrt{33}}$",
     r"$\frac{\sqrt{\sqrt{11}+\sqrt{194}}}{2\sqrt{33}+15}$", 1),
    ("$(a+5)(b+2)$", "$(+5)(b+2)$", 0), ("$2$", r"$\frac{1+\sqrt{5}}{2}$", 0),
    ("$4$", r"$\frac{34}{16}+\frac{\sqrt{1358}}{16}$", 0), (r"$1\sqrt{19}$", "$1$", 0),
    ("$x+2n+1$", "$x+1$", 0),
]:
    add(MV, t, gold, pred, label)

# -- Math-Verify: additional short cases -----------------------------------------------------
t = "test_math_extraction_additional_cases"
for gold, pred, label in [
    ("$34$", "Final Answer: The largest $n$ is 34.", 1), ("$(3,1)$", "${1,3}$", 0),
    (r"$[-4,0]$", r"Thus, the values of \( k \) are: \[ \boxed{[-4, 0]} \]", 1),
    (r"\(\boxed{\text{C}}\).", r"$\boxed{\text{(C)}}.$", 1),
    (r" So the answer is: \[ \boxed{11111111100} \]", r"is $\boxed{11,\! 111,\! 111,\! 100}$", 1),
    (r" So the answer is: \[ \boxed{32349} \]", r"is $\boxed{32,\! 349}$", 1),
    (r" So the answer is: \[ \boxed{32349} \]", r"is $\boxed{32, 349}$", 0),
    (r"Thus, the domain is: \[ \boxed{(2, 12) \cup (12, 102)} \]",
     r"Thus, the answer is $x \in \boxed{(2,12) \cup (12,102)}$", 1),
    (r"$\text{E}$", "$E$", 1), (r"$\boxed{1}\boxed{2}$", r"$\boxed{1,2}$", 1),
]:
    add(MV, t, gold, pred, label)
add(MV, t, "$(1,3)$", "${1,3}$", 1, "a brace list is a set, not the point (1,3)")
add(MV, "test_relations_math", r"$1 = \zzz = x = 0$", "$0$", 1,
    "a chain that starts 1 = … = 0 is not the value 0: we refuse a value for an equation")
add(MV, "test_set_rel_assymetry", r"$-2 \le x \le 7$", r"$x \in [-2,7]$", 1)
add(MV, "test_float_precision", f"{math.sqrt(17):.15f}", r"$\sqrt{17}$", 1)
add(MV, "test_sqrt_precision", "$4$", r"$4\sqrt{2}$", 0)
add(MV, "test_symbols", "$\text{13}$", "$13$", 0)   # sic: "\t" is a tab in the peer's test

# -- Math-Verify: string extraction (parse/verify defaults) ----------------------------------
t = "test_string_extraction"
for gold, pred, label in [
    ("$n=1, 2, 3$", "$n=1, 2, 3$", 1), ("$n=2, 3, 4$", "$n=1, 2, 3$", 0),
    ("$D = (0, 1)$", "$D = (0, 1)$", 1), ("$D = (0, 1)$", "$D = (0, 1.5)$", 0),
    (r"$F_n = \sum_{k=0}^{n-1} F_k F_{n-k-1}$", r"$F_n = \sum_{k=0}^{n-2} F_k F_{n-k-2}$", 0),
    (r"$F_n = \sum_{k=0}^{n-1} F_k F_{n-k-1}$", r"$F_n = \sum_{k=0}^{n-1} F_{n-k-1} F_k$", 1),
    ("$19, 46, and 82$", r"$19, 46, \text{ and } 82$", 1), ("$19, 46, and 82$", "$21, 36, and 82$", 0),
    (r"$1 - \frac{1}{\mathrm{e}}$", r"$1 - \frac{1}{\mathrm{e}}$", 1),
    (r"$\pm 2021$", "$2021$", 0), (r"$\pm 2021$", "${-2021, 2021}$", 1),
    ("$12:00$", "$1:00$", 0), ("$12:00$", "$12:00$", 1),
]:
    add(MVS, t, gold, pred, label)
add(MVS, t, r"$1 - \frac{1}{\mathrm{e}}$", r"$1 + \frac{1}{\mathrm{e}}$", 1,
    "1 - 1/e and 1 + 1/e differ")

# -- NeMo-Skills: math_equal, both directions ------------------------------------------------
CORRECT = [
    ("5", "5"), ("5", "5.0"), ("1/2", "0.5"), (r"\frac{1}{2}", "0.5"), (r"918\frac{1}{2}", "918.5"),
    ("x^2+2x+1", "x^2 + 2*x + 1"), ("x^2+2x+1", "x^2 + 2*x - (-1)"), ("y = x^2+2x+1", "2x+ 1+x^2"),
    ("odd", r"\text{odd}"), ("E", r"\mathrm{E}"), ("A", r"\textbf{A}"), ("f'", "f'"),
    ("185", "185\\"), (".185", "0.185"), (r"\frac {1}{2}", "0.5"), (r"17\text{ any text}", "17"),
    (r"\$10", "10"), ("10%", "10"), (r"10\%", "10"), ("2.5", r"\frac{5}{2}"),
    (r"\frac{1}{3}", r"\dfrac{1}{3}"), ("(r+5)(r+5)", "(r+5)^2"),
    (r"\frac{\sqrt{3}}{3}", r"\frac{\sqrt{3}}{3} \approx 0.577"), ("C", "C. x = 42"),
    (r"\begin{pmatrix}0&0&0\\0&1&0\\0&0&1\end{pmatrix}",
     r"\begin{bmatrix} 0 & 0 & 0 \\ 0 & 1 & 0 \\ 0 & 0 & 1 \end{bmatrix}"),
]
for a, b in CORRECT:
    add(NEMO, "test_correct_examples", a, b, 1)
    add(NEMO, "test_correct_examples", b, a, 1)
for a, b in [("5", "5.001"), ("x^2+2x+1", "x^3+2x+1"), ("odd", r"\text{oddd}"),
             ("E", r"\mathrm{E}*2"), (r"\sqrt{67},-\sqrt{85}", r"\sqrt{67}")]:
    add(NEMO, "test_incorrect_examples", a, b, 0)
    add(NEMO, "test_incorrect_examples", b, a, 0)


def build() -> list[dict]:
    return [{"id": f"peer-{i:03d}", "source": source, "test": test, "gold": gold, "pred": pred,
             "label": label, "dispute": dispute}
            for i, (source, test, gold, pred, label, dispute) in enumerate(CASES, 1)]


def main() -> None:
    rows = build()
    OUT.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows))
    print(f"{len(rows)} rows -> {OUT.name}")


if __name__ == "__main__":
    main()
