console.log('Loading function');

exports.handler = (event, context, callback) => {
    let success = 0;
    const output = event.records.map((record) => {
        const payload = new Buffer(record.data, 'base64').toString('ascii');
        console.log('Decoded payload: ' + payload);
        success++;
        return {
            recordId: record.recordId,
            result: 'Ok',
            data: new Buffer(payload + '\n').toString('base64'),
        };
    });
    console.log(`Processing completed.  Successful records ${success}.`);
    callback(null, { records: output });
};
