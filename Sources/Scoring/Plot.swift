import Foundation

/// A small SVG line chart: one or more series over the same x labels, plus horizontal
/// reference lines, all in percent (0 to 100). Self-contained text, no dependencies.
public struct LineChart {
    public var title: String
    public var xLabels: [String]
    public var series: [(name: String, values: [Double?], color: String)]
    public var references: [(name: String, value: Double, color: String)]
    /// Names of series drawn dashed (maj@k beside pass@k).
    public var dashedSeries: Set<String> = []

    public init(title: String, xLabels: [String], series: [(name: String, values: [Double?], color: String)] = [],
                references: [(name: String, value: Double, color: String)] = []) {
        self.title = title
        self.xLabels = xLabels
        self.series = series
        self.references = references
    }

    public func svg(width: Double = 640, height: Double = 400) -> String {
        let left = 56.0, right = 170.0, top = 40.0, bottom = 48.0
        let plotW = width - left - right, plotH = height - top - bottom
        let all = series.flatMap { $0.values.compactMap { $0 } } + references.map(\.value)
        let low = max(0, ((all.min() ?? 0) - 5) / 10).rounded(.down) * 10, high = min(100, ((all.max() ?? 100) + 5) / 10).rounded(.up) * 10
        let span = max(high - low, 10)
        func x(_ i: Int) -> Double { left + (xLabels.count <= 1 ? plotW / 2 : plotW * Double(i) / Double(xLabels.count - 1)) }
        func y(_ v: Double) -> Double { top + plotH * (1 - (v - low) / span) }
        func f(_ v: Double) -> String { String(Int((v * 10).rounded())) == "" ? "0" : "\(Double(Int((v * 10).rounded())) / 10)" }
        func escape(_ s: String) -> String { s.replacingOccurrences(of: "&", with: "&amp;").replacingOccurrences(of: "<", with: "&lt;") }
        var out = #"<svg xmlns="http://www.w3.org/2000/svg" width="\#(f(width))" height="\#(f(height))" font-family="sans-serif" font-size="12">"#
        out += "\n" + #"<rect width="100%" height="100%" fill="white"/>"#
        out += "\n" + #"<text x="\#(f(left))" y="22" font-size="15" font-weight="bold">\#(escape(title))</text>"#
        var tick = low
        while tick <= high + 1e-9 {
            out += "\n" + ##"<line x1="\##(f(left))" x2="\##(f(left + plotW))" y1="\##(f(y(tick)))" y2="\##(f(y(tick)))" stroke="#e5e5e5"/>"##
            out += "\n" + #"<text x="\#(f(left - 8))" y="\#(f(y(tick) + 4))" text-anchor="end">\#(Int(tick))%</text>"#
            tick += span <= 30 ? 5 : 10
        }
        for (i, label) in xLabels.enumerated() {
            out += "\n" + #"<text x="\#(f(x(i)))" y="\#(f(top + plotH + 20))" text-anchor="middle">\#(escape(label))</text>"#
        }
        var legendY = top + 10
        for reference in references {
            out += "\n" + #"<line x1="\#(f(left))" x2="\#(f(left + plotW))" y1="\#(f(y(reference.value)))" y2="\#(f(y(reference.value)))" stroke="\#(reference.color)" stroke-dasharray="6 4" stroke-width="1.5"/>"#
            out += "\n" + #"<text x="\#(f(left + plotW + 12))" y="\#(f(legendY))" fill="\#(reference.color)">- - \#(escape(reference.name)) \#(f(reference.value))%</text>"#
            legendY += 18
        }
        for line in series {
            let points = line.values.enumerated().compactMap { i, v in v.map { "\(f(x(i))),\(f(y($0)))" } }
            let dash = dashedSeries.contains(line.name) ? #" stroke-dasharray="8 5""# : ""
            out += "\n" + #"<polyline fill="none" stroke="\#(line.color)" stroke-width="2.5"\#(dash) points="\#(points.joined(separator: " "))"/>"#
            for point in points {
                let xy = point.split(separator: ",")
                out += "\n" + #"<circle cx="\#(xy[0])" cy="\#(xy[1])" r="4" fill="\#(line.color)"/>"#
            }
            let mark = dashedSeries.contains(line.name) ? "- -" : "—"
            out += "\n" + #"<text x="\#(f(left + plotW + 12))" y="\#(f(legendY))" fill="\#(line.color)">\#(mark) \#(escape(line.name))</text>"#
            legendY += 18
        }
        return out + "\n</svg>\n"
    }
}
