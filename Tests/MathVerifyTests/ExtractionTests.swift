import Testing
@testable import MathVerify

@Suite struct ExtractionTests {
    @Test(arguments: [
        ("So the total is $\\boxed{42}$.", "42", AnswerSource.boxed),
        ("\\boxed{1} and finally \\boxed{\\frac{1}{2}}", "\\frac{1}{2}", .boxed),
        ("\\fbox{7}", "7", .boxed),
        ("thus $\\boxed 9$", "9", .boxed),
        ("She pays 3 * 6 = 18.\n#### 18", "18", .gsm8k),
        ("#### 1,080\n", "1,080", .gsm8k),
        ("Adding, we get 12. The answer is 12.", "12", .theAnswerIs),
        ("The answer is: $\\frac{3}{4}$.", "\\frac{3}{4}", .theAnswerIs),
        ("Final Answer: The final answer is $7$. I hope it is correct.", "7", .minerva),
        ("Final Answer: The final answer is (1,2). I hope it is correct.", "(1,2)", .minerva),
        ("#### 5 but also \\boxed{6}", "6", .boxed),
    ])
    func extracts(completion: String, answer: String, source: AnswerSource) {
        let found = extractAnswer(from: completion)
        #expect(found?.answer == answer)
        #expect(found?.source == source)
    }

    @Test(arguments: ["I am not sure.", "", "\\boxed{", "####   \n", "the answer is"])
    func findsNothing(completion: String) {
        #expect(extractAnswer(from: completion) == nil)
        #expect(MathChecker.check(completion: completion, reference: "1").verdict == .noAnswer)
    }

    @Test func checkerReportsExtractedAnswer() {
        let result = MathChecker.check(completion: "so $\\boxed{0.5}$", reference: "\\frac{1}{2}")
        #expect(result == MathCheckResult(verdict: .correct, extracted: "0.5"))
        #expect(MathChecker.check(completion: "\\boxed{0.6}", reference: "\\frac{1}{2}").verdict == .wrongAnswer)
    }
}

/// Hostile completions finish quickly (the bound here is generous; it catches hangs, not
/// slowness) and never crash.
@Suite struct AdversarialTests {
    func finishes(_ completion: String, reference: String = "1", within seconds: Double = 5) -> MathCheckResult {
        let clock = ContinuousClock()
        var result: MathCheckResult?
        let elapsed = clock.measure { result = MathChecker.check(completion: completion, reference: reference) }
        #expect(elapsed < .seconds(seconds), "took \(elapsed)")
        return result!
    }

    @Test func tenThousandNestedBraces() {
        let deep = String(repeating: "{", count: 10_000) + "1" + String(repeating: "}", count: 10_000)
        #expect(finishes("\\boxed{\(deep)}").verdict == .wrongAnswer)
        #expect(finishes("\\boxed{" + String(repeating: "{", count: 10_000)).verdict == .noAnswer)
        let parens = String(repeating: "(", count: 400) + "1" + String(repeating: ")", count: 400)
        _ = finishes("\\boxed{\(parens)}")
    }

    @Test func tenMegabyteCompletion() {
        let filler = String(repeating: "We add the numbers { and } carefully $x^2$. ", count: 240_000)
        #expect(filler.utf8.count > 10_000_000)
        #expect(finishes(filler + "\\boxed{1}").verdict == .correct)
        #expect(finishes(filler).verdict == .noAnswer)
        #expect(finishes("\\boxed{" + filler + "}").verdict == .wrongAnswer)
    }

    @Test func fracChains() {
        let chain = String(repeating: "\\frac{1}{", count: 300) + "2" + String(repeating: "}", count: 300)
        _ = finishes("\\boxed{\(chain)}")
        let wide = (0..<150).map { _ in "\\frac{1}{2}" }.joined(separator: "+")
        #expect(finishes("\\boxed{\(wide)}", reference: "75").verdict == .correct)
    }

    @Test(arguments: ["10^{10^{10}}", "2^{2^{2^{2^{2}}}}", "(10^{100})!", "100000!", "\\binom{5000}{2500}",
                      "9^{9^{9^{9}}}", "\\sqrt{10^{10^{10}}}", "10^{-10^{10}}", "\\frac{5000!}{4999!}"])
    func hugeNumbers(answer: String) {
        _ = finishes("\\boxed{\(answer)}", reference: answer)
        _ = finishes("\\boxed{\(answer)}", reference: "\(answer)+1")
        #expect(finishes("\\boxed{\(answer)}", reference: "\(answer)+1").verdict == .wrongAnswer)
    }

    /// Inputs that could make the new structure rules branch or nest: many `\\pm` (each one
    /// doubles the values), long relation chains and "or" systems, many boxes, deep names.
    @Test func structuresStayBounded() {
        let signs = (0..<300).map { _ in "\\pm 1" }.joined(separator: " ")
        #expect(finishes("\\boxed{\(signs)}", reference: "1").verdict == .wrongAnswer)
        let chain = (0..<150).map { "x_{\($0)}" }.joined(separator: " < ")
        _ = finishes("\\boxed{\(chain)}", reference: chain)
        let system = (0..<150).map { "x > \($0)" }.joined(separator: " \\text{ or } ")
        _ = finishes("\\boxed{\(system)}", reference: "x > 0")
        let boxes = (0..<5000).map { "\\boxed{\($0)}" }.joined(separator: ", ")
        #expect(finishes(boxes, reference: "1").verdict == .wrongAnswer)
        let names = (0..<100).map { "a_{\($0)} = \($0)" }.joined(separator: ", ")
        _ = finishes("\\boxed{\(names)}", reference: (0..<100).map(String.init).joined(separator: ", "))
    }

    /// Found by the red team: each of these crashed the process or ran for minutes.
    @Test func redTeamCrashesAndHangs() {
        // Double-to-Int traps on root indices and exact-root guesses.
        for answer in ["\\sqrt[3]{10^{60}}", "\\sqrt[10^{20}]{-8}", "\\sqrt[\\infty]{-8}"] {
            #expect(finishes("\\boxed{\(answer)}", reference: "1").verdict == .wrongAnswer)
        }
        #expect(finishes("\\boxed{\\sqrt[3]{10^{60}}}", reference: "10^{20}").verdict == .correct)
        // Unclosed boxes: each retried scan went to the end of the text (quadratic).
        _ = finishes(String(repeating: "\\boxed{", count: 200_000))
        // Factorials recomputed at every evaluation of a relation.
        let factorials = (0..<330).map { _ in "5000!" }.joined(separator: "+")
        _ = finishes("\\boxed{x + \(factorials) > 0}", reference: "x > 0")
        // A 300-term sum built a tree deep enough to overflow a test thread's stack.
        let sum = (0..<300).map { _ in "1" }.joined(separator: "+")
        #expect(finishes("\\boxed{\(sum)}", reference: "300").verdict == .wrongAnswer)
    }

    @Test(arguments: ["\\frac{", "}{", "\\sqrt[", "^^^", "\\left(", "\\begin{pmatrix}", "(((", "\\\\\\\\", "$$$$",
                      "\u{0}", "🎉", "\\frac{1}{0}", "0^{-1}", "\\log_1 5", "\\sqrt[0]{2}", "x_{", "|", "1e99999"])
    func invalidLatex(answer: String) {
        #expect(finishes("\\boxed{\(answer)}", reference: "5").verdict != .correct)
    }
}
