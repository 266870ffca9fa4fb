import Formats
import Testing
@testable import Verify

/// `--dedup normalized`: the normalization of math and code completions, and the kept set.
@Suite struct DedupTests {
    func correct(_ id: String, _ completion: String, task: String, sample: Int) -> Record {
        Record(["id": .string(id), "task": .string(task), "completion": .string(completion),
                "sample": .number(JSONNumber(sample)), "reward": 1, "verdict": "correct"])
    }

    func keep(_ records: [Record], cap: Int = .max, dedup: Dedup, seed: UInt64 = 0) -> [Record] {
        var selection = CapSelection(cap: cap, seed: seed, dedup: dedup)
        records.forEach { selection.add($0, id: $0.id!) }
        return selection.selected()
    }

    @Test func mathCollapsesWhiteSpace() {
        #expect(CompletionKey.whitespace("  x =\t3,\n\n so \\boxed{3} \n") == "x = 3, so \\boxed{3}")
        #expect(CompletionKey.whitespace("x=3") != CompletionKey.whitespace("x = 3"))
    }

    @Test func pythonDropsCommentsAndBlankLines() {
        let plain = "def f(x):\n    return x * 2\n"
        let noisy = "# doubles\ndef f(x):   # the function\n\n    \n    return x  *\t2   \n# end\n"
        #expect(CompletionKey.python(plain) == "def f(x):\n    return x * 2")
        #expect(CompletionKey.python(noisy) == CompletionKey.python(plain))
    }

    @Test func pythonKeepsStringLiteralsAndIndentation() {
        // A '#' inside a literal is data, in every kind of literal.
        #expect(CompletionKey.python(#"print("a # b")  # note"#) == #"print("a # b")"#)
        #expect(CompletionKey.python(#"print('#1', "x")"#) == #"print('#1', "x")"#)
        #expect(CompletionKey.python(##"s = "say \"#1\" "  # q"##) == ##"s = "say \"#1\" ""##)
        #expect(CompletionKey.python(##"p = r'\d+\'#' # raw"##) == ##"p = r'\d+\'#'"##)
        #expect(CompletionKey.python("doc = '''one # two\n\n  three'''  # c\nx = 1")
                == "doc = '''one # two\n\n  three'''\nx = 1")
        #expect(CompletionKey.python(#"e = ""  # empty"#) == #"e = """#)
        #expect(CompletionKey.python(#"print("a # b")"#) != CompletionKey.python(#"print("a")"#))
        #expect(CompletionKey.python(#"print("a  b")"#) != CompletionKey.python(#"print("a b")"#))
        // Indentation is syntax: these are different programs.
        #expect(CompletionKey.python("if c:\n    a()\n    b()") != CompletionKey.python("if c:\n    a()\nb()"))
        // An apostrophe in prose opens a literal that ends with its line.
        #expect(CompletionKey.python("Here's the code:\n```python\nx = 1  # one\n```")
                == "Here's the code:\n```python\nx = 1\n```")
    }

    @Test func normalizedKeepsOneCompletionPerSolution() {
        // Math: three spellings of one solution, two of another.
        let math = ["so  \\boxed{12}", "so \\boxed{12}\n", "\tso \\boxed{12}", "x=12 \\boxed{12}", "x=12  \\boxed{12}"]
            .enumerated().map { correct("m", $1, task: "math", sample: $0) }
        // Code: comments and blank lines differ; the '#' inside a literal makes a third solution.
        let code = ["print(\"a\")\n", "# say a\nprint(\"a\")  # done\n\n", "print(\"a # b\")\n",
                    "\nprint(\"a\")\n", "print(\"a # b\")  # b too\n"]
            .enumerated().map { correct("c", $1, task: "code", sample: $0) }
        for seed: UInt64 in 0..<4 {
            let kept = keep(math + code, dedup: .normalized, seed: seed)
            #expect(kept.filter { $0.id == "m" }.count == 2)
            let keptCode = kept.filter { $0.id == "c" }
            #expect(keptCode.count == 2)
            #expect(Set(keptCode.map(CompletionKey.normalized)) == ["print(\"a\")", "print(\"a # b\")"])
            // Never two normalized-equal ones, even when the cap leaves room for them.
            let capped = keep(math + code, cap: 4, dedup: .normalized, seed: seed)
            #expect(capped.count == 4)
        }
        // exact: the same cap fills up with repeats (the behaviour before --dedup).
        #expect(keep(math + code, cap: 4, dedup: .exact).count == 8)
        #expect(keep(math, cap: 4, dedup: .exact).count == 4)
    }

    @Test func normalizedChoiceIsReproducibleAndIndependentOfOrder() {
        // Four spellings (trailing spaces) of each of three solutions.
        let records = (0..<12).map {
            correct("a", "solution \($0 % 3)" + String(repeating: " ", count: $0), task: "math", sample: $0)
        }
        func chosen(_ input: [Record], seed: UInt64) -> [Int] {
            keep(input, dedup: .normalized, seed: seed).map { $0["sample"]!.intValue! }
        }
        #expect(chosen(records, seed: 3).count == 3)
        #expect(chosen(records, seed: 3) == chosen(records.reversed(), seed: 3).sorted())
        #expect(Set((0..<6).map { chosen(records, seed: $0) }).count > 1)
    }
}
