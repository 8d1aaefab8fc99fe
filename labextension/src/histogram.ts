/**
 * Score histograms as inline SVG, drawn by the panel itself: no image request, nothing the
 * server's content security policy could block, and it follows the JupyterLab theme's colours.
 */
import { IHistogramBin } from './gradesApi';
import { formatPoints } from './panel';

const SVG_NS = 'http://www.w3.org/2000/svg';
const WIDTH = 240;
const HEIGHT = 110;
const AXIS = 18; // room for the bin labels under the bars
const TOP = 14; // room for the counts above the bars

function svg<K extends keyof SVGElementTagNameMap>(
  tag: K,
  attributes: Record<string, string | number>,
  text?: string
): SVGElementTagNameMap[K] {
  const node = document.createElementNS(SVG_NS, tag);
  for (const [name, value] of Object.entries(attributes)) {
    node.setAttribute(name, String(value));
  }
  if (text !== undefined) {
    node.textContent = text;
  }
  return node;
}

/** "1.5" for a bin of one value, "10–20" for a range. */
function binLabel(bin: IHistogramBin): string {
  return bin.low === bin.high
    ? formatPoints(bin.low)
    : `${formatPoints(bin.low)}–${formatPoints(bin.high)}`;
}

/**
 * A bar per bin (count of students whose points fall in it), the count above each bar and the
 * bin's value (or the start of its range) under it; the whole chart is described for screen readers by its title.
 */
export function histogramChart(
  title: string,
  bins: IHistogramBin[],
  className = ''
): HTMLElement {
  const figure = document.createElement('figure');
  figure.className = `jp-WorkbenchHistogram ${className}`.trim();
  const caption = document.createElement('figcaption');
  caption.className = 'jp-WorkbenchHistogram-title';
  caption.textContent = title;
  const chart = svg('svg', {
    viewBox: `0 0 ${WIDTH} ${HEIGHT}`,
    width: WIDTH,
    height: HEIGHT,
    role: 'img',
    class: 'jp-WorkbenchHistogram-chart'
  });
  const described = bins.map(b => `${binLabel(b)}: ${b.count}`).join(', ');
  chart.appendChild(svg('title', {}, `${title}: ${described}`));
  const most = Math.max(1, ...bins.map(b => b.count));
  const slot = WIDTH / Math.max(1, bins.length);
  const room = HEIGHT - AXIS - TOP;
  bins.forEach((bin, i) => {
    const height = (room * bin.count) / most;
    const x = i * slot + 2;
    const y = TOP + room - height;
    const bar = svg('rect', {
      x,
      y,
      width: Math.max(1, slot - 4),
      height: Math.max(bin.count > 0 ? 1 : 0, height),
      class: 'jp-WorkbenchHistogram-bar'
    });
    bar.dataset.count = String(bin.count);
    chart.appendChild(bar);
    if (bin.count > 0) {
      chart.appendChild(
        svg(
          'text',
          {
            x: x + (slot - 4) / 2,
            y: y - 3,
            'text-anchor': 'middle',
            class: 'jp-WorkbenchHistogram-count'
          },
          String(bin.count)
        )
      );
    }
    chart.appendChild(
      svg(
        'text',
        {
          x: i * slot + slot / 2,
          y: HEIGHT - 5,
          'text-anchor': 'middle',
          class: 'jp-WorkbenchHistogram-label'
        },
        bin.low === bin.high
          ? formatPoints(bin.low)
          : `${formatPoints(bin.low)}–`
      )
    );
  });
  figure.append(caption, chart);
  return figure;
}
