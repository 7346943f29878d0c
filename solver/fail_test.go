package solver

import (
	"context"
	"errors"
	"fmt"
	"testing"
)

// TestFailedStepStatus checks which failures mark a step ERROR and which
// CANCELED: only the step that failed is an error.
func TestFailedStepStatus(t *testing.T) {
	tests := []struct {
		name string
		err  error
		want Status
	}{
		{"its own failure", errors.New("exit code: 3"), StatusError},
		{"build cancelled", fmt.Errorf("run /bin/sh: %w", context.Canceled), StatusCanceled},
		{"needed stage failed", &stageFailedError{label: "build"}, StatusCanceled},
		{"deadline", fmt.Errorf("pull: %w", context.DeadlineExceeded), StatusError},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var got []Event
			b := &build{s: &Solver{reporter: ReporterFunc(func(e Event) { got = append(got, e) })}}
			sr := &stageRun{total: 3}
			if err := b.failedStep(sr, "COPY missing.txt /", tt.err); err != tt.err {
				t.Errorf("failedStep returned %v, want %v", err, tt.err)
			}
			if len(got) != 2 || got[0].Status != StatusStarted || got[0].Name != "[1/3] COPY missing.txt /" ||
				got[1].Status != tt.want || got[1].Vertex != got[0].Vertex || got[1].Data != tt.err.Error() {
				t.Errorf("events %+v, want started then %s", got, tt.want)
			}
		})
	}
}
