import Testing
@testable import MathVerify

@Suite struct BoxedAnswerTests {
    @Test(arguments: [
        (#"so $\boxed{5}$."#, "5"),
        (#"\boxed{1} then \boxed{\frac{1}{2}}"#, #"\frac{1}{2}"#),
        (#"\boxed{\left( 3, \frac{\pi}{2} \right)}"#, #"\left( 3, \frac{\pi}{2} \right)"#),
        (#"\boxed{\{1,2\}}"#, #"\{1,2\}"#),
        (#"$\boxed 7$"#, "7"),
        (#"\fbox{x+1}"#, "x+1"),
        (#"\boxed{a} \boxed{unclosed"#, "a"),
    ])
    func findsTheLastBox(text: String, expected: String) {
        #expect(lastBoxed(in: text) == expected)
    }

    @Test(arguments: ["no box here", #"\boxedx{3}"#, #"\boxed{"#, ""])
    func findsNothing(text: String) {
        #expect(lastBoxed(in: text) == nil)
    }
}
