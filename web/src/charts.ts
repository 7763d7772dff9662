// Chart.js with only the pieces the operations view uses (keeps the bundle small).
import {
  BarController, BarElement, CategoryScale, Chart, Legend, LinearScale, LineController, LineElement, PointElement,
  Tooltip, DoughnutController, ArcElement, type ChartConfiguration,
} from "chart.js";

Chart.register(BarController, BarElement, CategoryScale, LinearScale, LineController, LineElement, PointElement, Tooltip,
  Legend, DoughnutController, ArcElement);
Chart.defaults.font.family = "system-ui, -apple-system, 'Segoe UI', Roboto, sans-serif";
Chart.defaults.color = "#1f2933";
Chart.defaults.animation = false;

export { Chart };
export type { ChartConfiguration };
