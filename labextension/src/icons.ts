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
