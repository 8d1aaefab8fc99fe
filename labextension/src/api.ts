/**
 * Typed client for the workbench REST API (`<base_url>/workbench/api/v1/`).
 */
import { URLExt } from '@jupyterlab/coreutils';
import { ServerConnection } from '@jupyterlab/services';

/** The API namespace of the workbench server extension. */
export const API_NAMESPACE = 'workbench/api/v1';

export interface IMe {
  user: string;
  role: 'student' | 'instructor';
}

export interface IHealth {
  version: string;
  store: string;
  devices: Record<string, unknown>;
}

export interface IDeviceRequest {
  kind: string;
  count: number;
}

export interface ILab {
  id: string;
  title: string;
  points: number;
  /** ISO 8601 due date, or null when the lab has none. */
  due: string | null;
  device: IDeviceRequest | null;
}

export interface ICourse {
  id: string;
  title: string;
  description: string;
  labs: ILab[];
}

export interface IOpenedLab {
  /** Path relative to the Jupyter server root, usable with `docmanager:open`. */
  path: string;
  /** False when the student already had a copy (it is never overwritten). */
  created: boolean;
}

export interface IKernelDevice {
  kernel_id: string;
  /** E.g. "NPU 0", "CPU 3", or "CPU" for a kernel without a lease. */
  device: string;
  lease: number | null;
  /** "live", "queued", "reclaimed" or "ended"; absent without a lease. */
  state?: string | null;
  /** Why the lease ended (reclaimed, released), or null. */
  reason?: string | null;
  time_left_s: number | null;
  queue_position: number | null;
  /** An event kernel's team, which holds its lease, and the device-hours the team has left. */
  team?: string | null;
  team_hours_left?: number | null;
}

export interface ILeasedDevice {
  kind: string;
  id: string;
}

/** A device lease as `GET sessions` lists it. */
export interface ISession {
  lease: number;
  holder: string;
  course: string | null;
  kernel_id: string | null;
  kind: string;
  devices: ILeasedDevice[];
  state: string;
  /** ISO 8601: when the lease ends unless renewed (a kernel renews it on every heartbeat). */
  deadline: string | null;
  /** ISO 8601: the session-length limit, if the holder's quota sets one. */
  max_end: string | null;
  /** Seconds of session left; null when nothing limits the session. */
  time_left_s: number | null;
  started: string | null;
  ended: string | null;
  reason: string | null;
  queue_position?: number | null;
}

/** A device of the inventory; `lease` is the id of the lease holding it. */
export interface IDevice {
  kind: string;
  id: string;
  model: string;
  health: string;
  lease: number | null;
}

/** Device-seconds used by one holder on one kind of device. */
export interface IUsage {
  holder: string;
  kind: string;
  device_seconds: number;
  leases: number;
}

export interface IDevices {
  devices: IDevice[];
  /** Present for instructors only. */
  usage?: IUsage[];
}

/**
 * An error from the workbench API, carrying a message meant for the user.
 */
export class WorkbenchAPIError extends Error {
  constructor(
    message: string,
    readonly status: number | null = null
  ) {
    super(message);
    this.name = 'WorkbenchAPIError';
  }
}

/**
 * Client for the workbench REST API, authenticated like every Jupyter request.
 */
export class WorkbenchAPI {
  constructor(
    readonly serverSettings: ServerConnection.ISettings = ServerConnection.makeSettings()
  ) {}

  me(): Promise<IMe> {
    return this.request<IMe>('me');
  }

  health(): Promise<IHealth> {
    return this.request<IHealth>('health');
  }

  async courses(): Promise<ICourse[]> {
    const data = await this.request<{ courses: ICourse[] }>('courses');
    return data.courses ?? [];
  }

  course(courseId: string): Promise<ICourse> {
    return this.request<ICourse>(`courses/${encodeURIComponent(courseId)}`);
  }

  openLab(courseId: string, labId: string): Promise<IOpenedLab> {
    return this.request<IOpenedLab>(
      `courses/${encodeURIComponent(courseId)}/labs/${encodeURIComponent(labId)}/open`,
      { method: 'POST' }
    );
  }

  kernelDevice(kernelId: string): Promise<IKernelDevice> {
    return this.request<IKernelDevice>(
      `kernels/${encodeURIComponent(kernelId)}/device`
    );
  }

  devices(): Promise<IDevices> {
    return this.request<IDevices>('devices');
  }

  async sessions(): Promise<ISession[]> {
    const data = await this.request<{ sessions: ISession[] }>('sessions');
    return data.sessions ?? [];
  }

  releaseSession(leaseId: number): Promise<ISession> {
    return this.request<ISession>(
      `sessions/${encodeURIComponent(String(leaseId))}/release`,
      { method: 'POST' }
    );
  }

  /**
   * Call an endpoint and return its JSON body.
   *
   * Throws a WorkbenchAPIError whose message can be shown to the user as is.
   */
  async request<T>(endPoint: string, init: RequestInit = {}): Promise<T> {
    const url = URLExt.join(
      this.serverSettings.baseUrl,
      API_NAMESPACE,
      endPoint
    );
    let response: Response;
    try {
      response = await ServerConnection.makeRequest(
        url,
        init,
        this.serverSettings
      );
    } catch (error) {
      throw new WorkbenchAPIError(
        `Cannot reach the Jupyter server (${String(error)}). Check that it is still running.`
      );
    }

    const text = await response.text();
    let body: any = null;
    if (text.length > 0) {
      try {
        body = JSON.parse(text);
      } catch {
        body = null;
      }
    }

    if (!response.ok) {
      throw new WorkbenchAPIError(
        errorMessage(response.status, endPoint, body),
        response.status
      );
    }
    if (body === null) {
      throw new WorkbenchAPIError(
        `The workbench server sent a response that is not JSON for "${endPoint}".`,
        response.status
      );
    }
    return body as T;
  }
}

/**
 * The message to show for a failed request: the server's own when it sent one.
 */
function errorMessage(status: number, endPoint: string, body: any): string {
  if (body && typeof body.error === 'string') {
    return body.error;
  }
  if (body && typeof body.message === 'string' && body.message) {
    return body.message;
  }
  if (status === 404) {
    return (
      `The workbench server extension did not answer "${endPoint}" (HTTP 404). ` +
      'Check that it is installed and enabled: `jupyter server extension list` ' +
      'should show "workbench.server enabled".'
    );
  }
  if (status === 403) {
    return 'The Jupyter server refused the request (HTTP 403). Reload the page to log in again.';
  }
  return `The workbench server failed on "${endPoint}" (HTTP ${status}).`;
}
