package policies

import (
	"encoding/json"
	"io"
	"strings"
	"sync"
	"time"

	"portcullis/internal/policy"
)

// EventLog is where one log-to-eventhub logger writes: JSON lines, one per message, to a
// file or standard output (gateway.loggers). Safe for concurrent use.
type EventLog struct {
	mu sync.Mutex
	w  io.Writer
}

// NewEventLog returns a log that writes to w.
func NewEventLog(w io.Writer) *EventLog { return &EventLog{w: w} }

// eventRecord is one line of an EventLog.
type eventRecord struct {
	Time         string `json:"time"`
	LoggerID     string `json:"loggerId"`
	PartitionID  string `json:"partitionId,omitempty"`
	PartitionKey string `json:"partitionKey,omitempty"`
	RequestID    string `json:"requestId,omitempty"`
	Message      string `json:"message"`
}

func (l *EventLog) write(rec eventRecord) error {
	line, err := json.Marshal(rec)
	if err != nil {
		return err
	}
	line = append(line, '\n')
	l.mu.Lock()
	defer l.mu.Unlock()
	_, err = l.w.Write(line)
	return err
}

// maxEventMessage is APIM's limit on one message: 200 KB; longer ones are cut.
const maxEventMessage = 200 << 10

// EventHubDeps are log-to-eventhub's services.
type EventHubDeps struct {
	// Loggers by logger-id; a policy naming another id is a load error.
	Loggers map[string]*EventLog
	// Now is the clock; nil means time.Now.
	Now func() time.Time
}

type logToEventHub struct {
	log          *EventLog
	loggerID     string
	partitionID  string
	partitionKey *policy.Value
	message      policy.Value
	now          func() time.Time
}

func (d EventHubDeps) compileLogToEventHub(el *policy.Element, c *policy.Compiler) (policy.Step, error) {
	r, err := readElement(el, c, "logger-id", "partition-id", "partition-key")
	if err != nil {
		return nil, err
	}
	if len(el.Children) > 0 {
		return nil, policy.Errorf(el.Children[0].Pos, "<%s> holds text or a policy expression, not <%s>", el.Name, el.Children[0].Name)
	}
	p := &logToEventHub{now: d.Now}
	if p.now == nil {
		p.now = time.Now
	}
	if p.loggerID, _, err = r.constant("logger-id", true); err != nil {
		return nil, err
	}
	if p.partitionID, _, err = r.constant("partition-id", false); err != nil {
		return nil, err
	}
	if p.partitionKey, err = r.value("partition-key", false); err != nil {
		return nil, err
	}
	if p.partitionKey != nil && p.partitionID != "" {
		return nil, policy.Errorf(el.Pos, "<log-to-eventhub> takes partition-id or partition-key, not both")
	}
	if p.message, err = c.TextValue(el); err != nil {
		return nil, err
	}
	log, ok := d.Loggers[strings.TrimSpace(p.loggerID)]
	if !ok {
		a, _ := el.Attr("logger-id")
		return nil, policy.Errorf(a.Pos, "<log-to-eventhub> logger-id %q names no logger under gateway.loggers", p.loggerID)
	}
	p.log = log
	return p, nil
}

func (p *logToEventHub) Run(ctx *policy.Context) error {
	msg, err := p.message.String(ctx)
	if err != nil {
		return err
	}
	if !p.message.IsExpr() {
		msg = strings.TrimSpace(msg)
	}
	if len(msg) > maxEventMessage {
		msg = msg[:maxEventMessage]
	}
	key, err := evalString(ctx, p.partitionKey)
	if err != nil {
		return err
	}
	// A sink that fails (disk full) loses the message, never the request, as with Event Hubs.
	_ = p.log.write(eventRecord{
		Time:         p.now().UTC().Format(time.RFC3339Nano),
		LoggerID:     p.loggerID,
		PartitionID:  p.partitionID,
		PartitionKey: key,
		RequestID:    ctx.RequestID,
		Message:      msg,
	})
	return nil
}
