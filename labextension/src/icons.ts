/**
 * Icons of the workbench extension.
 */
import { LabIcon } from '@jupyterlab/ui-components';

const coursesSvg = `<svg xmlns="http://www.w3.org/2000/svg" width="16" height="16" viewBox="0 0 24 24">
  <g class="jp-icon3" fill="#616161">
    <path d="M12 3 1 9l11 6 9-4.91V17h2V9L12 3zm-6.18 9.37v4.01L12 21l6.18-4.62v-4.01L12 15.74l-6.18-3.37z"/>
  </g>
</svg>`;

export const coursesIcon = new LabIcon({
  name: 'aicc-workbench:courses',
  svgstr: coursesSvg
});

const devicesSvg = `<svg xmlns="http://www.w3.org/2000/svg" width="16" height="16" viewBox="0 0 24 24">
  <g class="jp-icon3" fill="#616161">
    <path d="M9 2v2H7a3 3 0 0 0-3 3v2H2v2h2v2H2v2h2v2a3 3 0 0 0 3 3h2v2h2v-2h2v2h2v-2h2a3 3 0 0 0 3-3v-2h2v-2h-2v-2h2V9h-2V7a3 3 0 0 0-3-3h-2V2h-2v2h-2V2H9zM7 6h10a1 1 0 0 1 1 1v10a1 1 0 0 1-1 1H7a1 1 0 0 1-1-1V7a1 1 0 0 1 1-1zm2 3v6h6V9H9z"/>
  </g>
</svg>`;

export const devicesIcon = new LabIcon({
  name: 'aicc-workbench:devices',
  svgstr: devicesSvg
});

const feedbackSvg = `<svg xmlns="http://www.w3.org/2000/svg" width="16" height="16" viewBox="0 0 24 24">
  <g class="jp-icon3" fill="#616161">
    <path d="M20 2H4a2 2 0 0 0-2 2v18l4-4h14a2 2 0 0 0 2-2V4a2 2 0 0 0-2-2zm-9.5 12.5L6 10l1.4-1.4 3.1 3.1 6.1-6.1L18 7l-7.5 7.5z"/>
  </g>
</svg>`;

export const feedbackIcon = new LabIcon({
  name: 'aicc-workbench:feedback',
  svgstr: feedbackSvg
});

const gradebookSvg = `<svg xmlns="http://www.w3.org/2000/svg" width="16" height="16" viewBox="0 0 24 24">
  <g class="jp-icon3" fill="#616161">
    <path d="M3 3h18v18H3V3zm2 2v3h4V5H5zm6 0v3h8V5h-8zM5 10v3h4v-3H5zm6 0v3h8v-3h-8zm-6 5v4h4v-4H5zm6 0v4h8v-4h-8z"/>
  </g>
</svg>`;

export const gradebookIcon = new LabIcon({
  name: 'aicc-workbench:gradebook',
  svgstr: gradebookSvg
});

const leaderboardSvg = `<svg xmlns="http://www.w3.org/2000/svg" width="16" height="16" viewBox="0 0 24 24">
  <g class="jp-icon3" fill="#616161">
    <path d="M7 2h10v2h4v3a5 5 0 0 1-4.6 5A5 5 0 0 1 13 15.9V19h4v3H7v-3h4v-3.1A5 5 0 0 1 7.6 12 5 5 0 0 1 3 7V4h4V2zm0 4H5v1a3 3 0 0 0 2 2.8V6zm10 0v3.8A3 3 0 0 0 19 7V6h-2z"/>
  </g>
</svg>`;

export const leaderboardIcon = new LabIcon({
  name: 'aicc-workbench:leaderboard',
  svgstr: leaderboardSvg
});
